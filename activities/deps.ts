import type Redis from 'ioredis';
import type pg from 'pg';
import { ClaimStore } from '../src/claims';
import type { AppEnv } from '../src/config/env';
import { loadSyncConfig, type SyncConfig } from '../src/config/tables';
import { LegacyReadConnection } from '../src/db/legacy';
import { createPool } from '../src/db/postgres';
import { createRedis } from '../src/db/redis';
import { loadEudcMap, type EudcMap } from '../src/encoding/eudc';
import { logger, type Logger } from '../src/logger';

/** What the activities share in one worker process: connections, configuration, the EUDC map. */
export interface ActivityDeps {
  env: AppEnv;
  config: SyncConfig;
  /** Set-based SQL for batches and plain SQL for bookkeeping (no ORM: the worker stays small). */
  pool: pg.Pool;
  redis: Redis;
  claims: ClaimStore;
  eudc: EudcMap;
  /** The legacy file, read-only, kept open between batches. */
  legacy: LegacyReadConnection;
  log: Logger;
}

export function createActivityDeps(env: AppEnv, overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  // Configuration first: a bad one fails before any connection is opened.
  const config = overrides.config ?? loadSyncConfig(env.SYNC_TABLES_CONFIG);
  const eudc = overrides.eudc ?? loadEudcMap();
  const redis =
    overrides.redis ??
    createRedis(env, {
      // Redis is a cache here: give up on a command quickly while Redis is away (the activity retries).
      maxRetriesPerRequest: 2,
    });
  redis.on('error', () => {});
  return {
    env,
    config,
    pool: overrides.pool ?? createPool(env.DATABASE_URL),
    redis,
    claims: overrides.claims ?? new ClaimStore(redis, env.CLAIM_TTL_SECONDS),
    eudc,
    legacy: overrides.legacy ?? new LegacyReadConnection(env.LEGACY_DB_PATH),
    log: overrides.log ?? logger.child({}, { level: env.LOG_LEVEL }),
  };
}

export async function closeActivityDeps(deps: ActivityDeps): Promise<void> {
  await deps.pool.end().catch(() => {});
  deps.redis.disconnect();
  deps.legacy.close();
}
