import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { expectExit, runCli } from '../support/cli';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';
import { createTestDatabase } from '../support/testDatabase';

/**
 * Work reaches only the worker it was meant for. A worker left running for one legacy file
 * and database polls the task queues; a command started for another file, or another
 * database, fails at once, names the worker and both targets, and writes nothing anywhere.
 */

describe('a worker for another target', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 51, clients: 30, drivers: 3, deliveries: 200 });
  });
  afterAll(async () => h?.close());

  const cli = (args: string[], env: Record<string, string>) =>
    runCli(args, {
      env: {
        REDIS_URL: h.env.REDIS_URL,
        TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: h.env.TEMPORAL_TASK_QUEUE,
        TEMPORAL_LEGACY_TASK_QUEUE: h.env.TEMPORAL_LEGACY_TASK_QUEUE,
        LOG_LEVEL: 'error',
        ...env,
      },
      timeoutMs: 120_000,
    });
  const bookkeeping = async (pool = h.pool) => ({
    runs: await count(pool, 'SELECT count(*) FROM sync_runs'),
    customers: await count(pool, 'SELECT count(*) FROM customers'),
    orders: await count(pool, 'SELECT count(*) FROM orders'),
  });

  it('refuses sync-once for another legacy file: exit 2, the worker and both files named, nothing written', async () => {
    const other = path.join(h.dir, 'other.db');
    generateLegacyDb({ path: other, seed: 52, clients: 10, drivers: 2, deliveries: 50 });
    const bytes = readFileSync(other);
    const before = await bookkeeping();
    const r = await cli(['sync-once'], { LEGACY_DB_PATH: other, DATABASE_URL: h.env.DATABASE_URL });
    expectExit(r, 2);
    expect(r.stderr).toContain(`this work was started for legacy file ${other}`);
    expect(r.stderr).toContain(`serves legacy file ${h.legacyPath}`);
    expect(r.stderr).toMatch(/worker \d+@\S+ all legacy=/);
    expect(await bookkeeping()).toEqual(before);
    expect(readFileSync(other).equals(bytes)).toBe(true);
  });

  it('refuses sync-once for another database the same way', async () => {
    const otherDb = await createTestDatabase();
    try {
      const r = await cli(['sync-once'], { LEGACY_DB_PATH: h.legacyPath, DATABASE_URL: otherDb.url });
      expectExit(r, 2);
      expect(r.stderr).toMatch(/this work was started for legacy file .*, database 127\.0\.0\.1:\d+\/test_\w+, but worker .* serves/);
      expect(await bookkeeping()).toEqual({ runs: 0, customers: 0, orders: 0 });
    } finally {
      await otherDb.drop();
    }
  });

  it('lists the workers of each task queue, with what they serve, in status', async () => {
    const r = await cli(['status', '--json'], { LEGACY_DB_PATH: h.legacyPath, DATABASE_URL: h.env.DATABASE_URL });
    expectExit(r, 0);
    const { workers } = JSON.parse(r.stdout) as { workers: { taskQueue: string; workers: { identity: string }[] }[] };
    const byQueue = Object.fromEntries(workers.map((q) => [q.taskQueue, q.workers.map((w) => w.identity)]));
    expect(byQueue[h.env.TEMPORAL_TASK_QUEUE]).toEqual([expect.stringContaining(`legacy=${h.legacyPath}`)]);
    expect(byQueue[h.env.TEMPORAL_LEGACY_TASK_QUEUE]).toEqual([expect.stringMatching(/ all legacy=.* db=127\.0\.0\.1:\d+\/test_/)]);
  });
});
