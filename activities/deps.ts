import type Redis from 'ioredis';
import type pg from 'pg';
import { ClaimStore } from '../src/claims';
import type { AppEnv, LegacyEnv } from '../src/config/env';
import { loadSyncConfig, type SyncConfig } from '../src/config/tables';
import { LegacyReadConnection } from '../src/db/legacy';
import { createPool } from '../src/db/postgres';
import { createRedis } from '../src/db/redis';
import { warmUpCp950 } from '../src/encoding/cp950';
import { loadEudcMap, type EudcMap } from '../src/encoding/eudc';
import { logger, type Logger } from '../src/logger';

/**
 * What the activities of one worker process share: connections, the configuration, the
 * EUDC map. Core activities reach PostgreSQL, Redis and Temporal; legacy activities reach the
 * legacy file and Redis only.
 */

interface Shared {
  config: SyncConfig;
  redis: Redis;
  claims: ClaimStore;
  eudc: EudcMap;
  log: Logger;
}

export interface CoreDeps extends Shared {
  env: AppEnv;
  /** Set-based SQL for batches and plain SQL for bookkeeping (no ORM: the worker stays small). */
  pool: pg.Pool;
}

export interface LegacyDeps extends Shared {
  env: LegacyEnv;
  /** The legacy file, read-only, kept open between batches. */
  legacy: LegacyReadConnection;
}

function shared(env: LegacyEnv, overrides: Partial<Shared>): Shared {
  // Configuration first: a bad one fails before any connection is opened.
  const config = overrides.config ?? loadSyncConfig(env.SYNC_TABLES_CONFIG);
  const eudc = overrides.eudc ?? loadEudcMap(env.EUDC_MAP_PATH);
  warmUpCp950();
  // Redis is a cache here: give up on a command quickly while Redis is away (the activity retries).
  const redis = overrides.redis ?? createRedis(env, { maxRetriesPerRequest: 2 });
  redis.on('error', () => {});
  return {
    config,
    eudc,
    redis,
    claims: overrides.claims ?? new ClaimStore(redis, env.CLAIM_TTL_SECONDS),
    log: overrides.log ?? logger.child({}, { level: env.LOG_LEVEL }),
  };
}

export function createCoreDeps(env: AppEnv, overrides: Partial<CoreDeps> = {}): CoreDeps {
  const s = shared(env, overrides);
  return { ...s, env, pool: overrides.pool ?? createPool(env.DATABASE_URL) };
}

export function createLegacyDeps(env: LegacyEnv, overrides: Partial<LegacyDeps> = {}): LegacyDeps {
  const s = shared(env, overrides);
  return { ...s, env, legacy: overrides.legacy ?? new LegacyReadConnection(env.LEGACY_DB_PATH) };
}

export async function closeDeps(deps: { pool?: pg.Pool; redis?: Redis; legacy?: LegacyReadConnection }): Promise<void> {
  await deps.pool?.end().catch(() => {});
  deps.redis?.disconnect();
  deps.legacy?.close();
}
