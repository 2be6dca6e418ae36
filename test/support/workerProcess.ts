import { spawn, type ChildProcess } from 'node:child_process';
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

/** A harness with 40,000 deliveries waiting for a backfill, their clients and drivers already synced. */
export async function startBackfillHarness(): Promise<SyncHarness> {
  const h = await startHarness();
  generateLegacyDb({ path: h.legacyPath, seed: 21, clients: 200, drivers: 10, deliveries: 40_000 });
  await h.runCycle(['clients', 'drivers']);
  return h;
}
