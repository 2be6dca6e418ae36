import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Client } from '@temporalio/client';
import { loadEnv, type AppEnv } from '../../src/config/env';
import { loadSyncConfig, parseSyncConfig, type SyncConfig } from '../../src/config/tables';
import { connectClient } from '../../src/temporal/connection';
import { createSyncWorker, type SyncWorker } from '../../src/temporal/worker';
import { createPool } from '../../src/db/postgres';
import type { ActivityDeps } from '../../activities';
import type { CycleSummary } from '../../workflows/syncCycle';
import { createTestDatabase } from './testDatabase';

/**
 * A real sync set-up for one test file: its own PostgreSQL database, legacy file folder,
 * Redis key space and Temporal task queue, and a worker running on the tests' stack.
 */
export interface SyncHarness {
  env: AppEnv;
  dir: string;
  legacyPath: string;
  pool: pg.Pool;
  client: Client;
  sync: SyncWorker;
  runCycle(tables?: string[]): Promise<CycleSummary>;
  close(): Promise<void>;
}

/** The shipped table configuration, with some fields changed for a test. */
export function configWith(change: (tables: Record<string, unknown>[]) => void): SyncConfig {
  const shipped = loadSyncConfig(path.resolve(__dirname, '../../config/tables.json'));
  const tables = shipped.tables.map(({ mapping: _m, ...rest }) => ({ ...rest })) as Record<string, unknown>[];
  change(tables);
  return parseSyncConfig({ tables }, 'test config');
}

export async function startHarness(
  opts: { config?: SyncConfig; env?: Record<string, string>; overrides?: Partial<ActivityDeps>; databaseUrl?: (url: string) => string } = {},
): Promise<SyncHarness> {
  const db = await createTestDatabase();
  const databaseUrl = opts.databaseUrl ? opts.databaseUrl(db.url) : db.url;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'luckygas-test-'));
  const legacyPath = path.join(dir, 'luckygas.db');
  const env = loadEnv({
    LEGACY_DB_PATH: legacyPath,
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...opts.env,
  });
  const pool = createPool(databaseUrl, 4);
  const client = await connectClient(env);
  const sync = await createSyncWorker(env, { ...(opts.config ? { config: opts.config } : {}), ...opts.overrides });
  const running = sync.worker.run();
  let n = 0;
  return {
    env,
    dir,
    legacyPath,
    pool,
    client,
    sync,
    async runCycle(tables?: string[]) {
      return client.workflow.execute('SyncCycleWorkflow', {
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        workflowId: `sync-cycle/test/${env.TEMPORAL_TASK_QUEUE}/${n++}`,
        args: [{ tables }],
      });
    },
    async close() {
      sync.worker.shutdown();
      await running.catch(() => {});
      await sync.close();
      await client.connection.close();
      await pool.end();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function count(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  const res = await pool.query(sql, params);
  return Number(Object.values(res.rows[0])[0]);
}
