import { readFileSync } from 'node:fs';
import Redis, { type RedisOptions } from 'ioredis';

/** A Redis client for REDIS_URL; rediss:// is TLS, verified against REDIS_TLS_CA when given. */
export function createRedis(env: { REDIS_URL: string; REDIS_TLS_CA?: string }, options: RedisOptions = {}): Redis {
  const tls = env.REDIS_URL.startsWith('rediss:') && env.REDIS_TLS_CA ? { tls: { ca: readFileSync(env.REDIS_TLS_CA) } } : {};
  return new Redis(env.REDIS_URL, { ...tls, ...options });
}
