import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';

const ROOT = path.resolve(__dirname, '../..');

/** A worker in its own process, as in production, so it can be killed for real. */
function spawnWorker(h: SyncHarness): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'bin/luckygas-sync.js'), 'worker'], {
    env: {
      ...process.env,
      LEGACY_DB_PATH: h.legacyPath,
      DATABASE_URL: h.env.DATABASE_URL,
      REDIS_URL: h.env.REDIS_URL,
      TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: `${h.env.TEMPORAL_TASK_QUEUE}-proc`,
      LUCKYGAS_DATA_DIR: h.dir,
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
}

describe('workers in their own processes', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 21, clients: 200, drivers: 10, deliveries: 40_000 });
    await h.runCycle(['clients', 'drivers']);
  });
  afterAll(async () => h?.close());

  it('loses nothing and duplicates nothing after SIGKILL and a restart', async () => {
    let worker = spawnWorker(h);
    const handle = await h.client.workflow.start('BackfillWorkflow', {
      taskQueue: `${h.env.TEMPORAL_TASK_QUEUE}-proc`,
      workflowId: `backfill/deliveries/crash-${h.env.TEMPORAL_TASK_QUEUE}`,
      args: [{ table: 'deliveries' }],
    });
    // Let some batches land, then kill the worker without warning.
    for (let i = 0; i < 600; i++) {
      if ((await count(h.pool, 'SELECT count(*) FROM orders')) >= 5000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    const atKill = await count(h.pool, 'SELECT count(*) FROM orders');
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(40_000);

    worker = spawnWorker(h);
    try {
      const result = await handle.result();
      expect(result.status).toBe('completed');
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(40_000);
    expect(await count(h.pool, 'SELECT count(DISTINCT legacy_id) FROM orders')).toBe(40_000);
    // Every row was inserted exactly once, whatever was retried.
    expect(await count(h.pool, `SELECT count(*) FROM (SELECT legacy_id FROM sync_journal WHERE table_name = 'orders' AND operation = 'insert' GROUP BY 1 HAVING count(*) > 1) d`)).toBe(0);
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal WHERE table_name = 'orders' AND operation = 'insert'`)).toBe(40_000);
  }, 300_000);

  it('share a backfill when two poll the same task queue', async () => {
    const queue = `${h.env.TEMPORAL_TASK_QUEUE}-proc`;
    const workers = [spawnWorker(h), spawnWorker(h)];
    try {
      const handle = await h.client.workflow.start('BackfillWorkflow', {
        taskQueue: queue,
        workflowId: `backfill/clients/shared-${h.env.TEMPORAL_TASK_QUEUE}`,
        args: [{ table: 'deliveries' }],
      });
      const result = await handle.result();
      expect(result.status).toBe('completed');
      // Which worker ran each activity is in the history: both took part.
      const identities = new Set<string>();
      for await (const event of (await handle.fetchHistory()).events ?? []) {
        const identity = event.activityTaskStartedEventAttributes?.identity;
        if (identity) identities.add(identity);
      }
      expect(identities.size).toBe(2);
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
    }
  }, 300_000);
});
