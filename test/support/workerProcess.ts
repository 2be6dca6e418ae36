import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { connectClient } from '../../src/temporal/connection';
import { targetOf } from '../../src/temporal/target';
import { startHarness, type SyncHarness } from './syncHarness';

const ROOT = path.resolve(__dirname, '../..');

/** The task queue of the harness's worker processes (the harness's own worker polls another). */
export const processQueue = (h: SyncHarness): string => `${h.env.TEMPORAL_TASK_QUEUE}-proc`;

/** A client whose runs go to the worker processes' task queues (the legacy agent's too). */
export function processClient(h: SyncHarness): Promise<Client> {
  const env = { ...h.env, TEMPORAL_TASK_QUEUE: processQueue(h), TEMPORAL_LEGACY_TASK_QUEUE: `${processQueue(h)}-legacy` };
  return connectClient(env, targetOf(env, 'all'));
}

/** A worker in its own process, as in production, so it can be killed for real. */
export function spawnWorker(h: SyncHarness, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'bin/luckygas-sync.js'), 'worker'], {
    env: {
      ...process.env,
      LEGACY_DB_PATH: h.legacyPath,
      DATABASE_URL: h.env.DATABASE_URL,
      REDIS_URL: h.env.REDIS_URL,
      TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: processQueue(h),
      LUCKYGAS_DATA_DIR: h.dir,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'ignore',
  });
}

export async function stopWorker(worker: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill(signal);
  await exited;
}

/** Polls `probe` every 100 ms until it holds, for at most `seconds`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The shipped table configuration with pages of `rows`, as a file for a worker process (SYNC_TABLES_CONFIG). */
export function pagesOf(h: SyncHarness, rows: number): string {
  const config = JSON.parse(readFileSync(path.join(ROOT, 'config/tables.json'), 'utf8'));
  for (const t of config.tables) t.batchSize = t.backfillBatchSize = rows;
  const file = path.join(h.dir, `tables-${rows}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Deliveries waiting for a backfill, in pages of BACKFILL.pageSize for the worker processes (pagesOf). */
export const BACKFILL = { deliveries: 10_000, clients: 200, drivers: 10, pageSize: 500 };

/** A harness with BACKFILL.deliveries waiting for a backfill, their clients and drivers already synced. */
export async function startBackfillHarness(): Promise<SyncHarness> {
  const h = await startHarness();
  generateLegacyDb({ path: h.legacyPath, seed: 21, clients: BACKFILL.clients, drivers: BACKFILL.drivers, deliveries: BACKFILL.deliveries });
  await h.runCycle(['clients', 'drivers']);
  return h;
}
