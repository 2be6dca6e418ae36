import { deserialize, serialize } from 'node:v8';
import type Redis from 'ioredis';

/**
 * Claim-check between activities: a batch's rows wait in Redis under a key with a TTL, and
 * only the key travels through workflow history. Redis is disposable: a missing claim is
 * not an error of the data, the workflow fetches the batch again.
 */

export class ClaimMissingError extends Error {
  constructor(key: string) {
    super(`claim ${key} is gone from Redis (expired or flushed): the batch will be fetched again`);
    this.name = 'ClaimMissing';
  }
}

export class ClaimStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly prefix = 'luckygas:claim:',
  ) {}

  async put(key: string, value: unknown): Promise<void> {
    await this.redis.set(this.prefix + key, serialize(value), 'EX', this.ttlSeconds);
  }

  async get<T>(key: string): Promise<T> {
    const buf = await this.redis.getBuffer(this.prefix + key);
    if (!buf) throw new ClaimMissingError(key);
    return deserialize(buf) as T;
  }

  async drop(...keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => this.prefix + k));
  }
}
