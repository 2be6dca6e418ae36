import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Client } from '@temporalio/client';
import type { ClaimStore } from '../../src/claims';
import { loadEnv, type AppEnv } from '../../src/config/env';
import { loadSyncConfig, parseSyncConfig, type SyncConfig } from '../../src/config/tables';
import { createPool } from '../../src/db/postgres';
import type { CycleSummary } from '../../src/shared';
import { connectClient } from '../../src/temporal/connection';
import { targetOf } from '../../src/temporal/target';
import type { WorkerRole } from '../../src/shared';
import { createWorkers, type SyncWorkers } from '../../src/temporal/worker';
import { SyncCycleWorkflow } from '../../workflows';
import { createTestDatabase } from './testDatabase';

/**
 * A real sync set-up for one test file: its own PostgreSQL database, legacy file folder,
 * Redis key space and Temporal task queues, and workers running on the tests' stack (both
 * roles in this process, unless asked otherwise).
 */
export interface SyncHarness {
  env: AppEnv;
  dir: string;
  legacyPath: string;
  pool: pg.Pool;
  /** A client whose workflows carry this set-up's target. */
  client: Client;
  workers: SyncWorkers | null;
  /** Changes the table configuration of the running workers (both roles). */
  setConfig(config: SyncConfig): void;
  /** Stops the workers and starts new ones on the same task queues (a worker restart). */
  restartWorkers(): Promise<void>;
  runCycle(tables?: string[]): Promise<CycleSummary>;
  close(): Promise<void>;
}

/** The shipped table configuration, with some fields changed for a test. */
export function configWith(change: (tables: Record<string, unknown>[]) => void): SyncConfig {
  const shipped = loadSyncConfig(path.resolve(__dirname, '../../config/tables.json'));
  const tables = shipped.tables.map(({ mapping: _m, rules: _r, ...rest }) => ({ ...rest })) as Record<string, unknown>[];
  change(tables);
  return parseSyncConfig({ tables }, 'test config');
}

export async function startHarness(
  opts: { config?: SyncConfig; env?: Record<string, string>; databaseUrl?: (url: string) => string; role?: WorkerRole | 'none'; claims?: ClaimStore } = {},
): Promise<SyncHarness> {
  const db = await createTestDatabase();
  const databaseUrl = opts.databaseUrl ? opts.databaseUrl(db.url) : db.url;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'luckygas-test-'));
  const legacyPath = path.join(dir, 'luckygas.db');
  const queue = `test-${randomBytes(4).toString('hex')}`;
  const env = loadEnv({
    LEGACY_DB_PATH: legacyPath,
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: queue,
    TEMPORAL_LEGACY_TASK_QUEUE: `${queue}-legacy`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...opts.env,
  });
  const pool = createPool(databaseUrl, 4);
  const client = await connectClient(env, targetOf(env, 'all'));
  const role = opts.role ?? 'all';
  const shared: { config?: SyncConfig; claims?: ClaimStore } = { ...(opts.config ? { config: opts.config } : {}), ...(opts.claims ? { claims: opts.claims } : {}) };
  const bundle = process.env.TEST_WORKFLOW_BUNDLE;
  const start = () => (role === 'none' ? Promise.resolve(null) : createWorkers(env, role, { core: shared, legacy: shared, ...(bundle ? { workflowBundle: { codePath: bundle } } : {}) }));
  let workers = await start();
  let running = workers?.run();
  let n = 0;
  return {
    env,
    dir,
    legacyPath,
    pool,
    client,
    get workers() {
      return workers;
    },
    setConfig(config: SyncConfig) {
      shared.config = config;
      if (workers?.core) workers.core.config = config;
      if (workers?.legacy) workers.legacy.config = config;
    },
    async restartWorkers() {
      workers?.shutdown();
      await running?.catch(() => {});
      await workers?.close();
      workers = await start();
      running = workers?.run();
    },
    async runCycle(tables?: string[]) {
      return client.workflow.execute(SyncCycleWorkflow, {
        taskQueue: env.TEMPORAL_TASK_QUEUE,
        workflowId: `sync-cycle/test/${env.TEMPORAL_TASK_QUEUE}/${n++}`,
        args: [{ tables }],
      });
    },
    async close() {
      workers?.shutdown();
      await running?.catch(() => {});
      await workers?.close();
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

/** Rows of a legacy table, read from the file as it is now. */
export function legacyCount(legacyPath: string, table: string): number {
  const db = new Database(legacyPath, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}
