import Database from 'better-sqlite3';
import { generateLegacyDb } from '../../../src/fixtures/legacyFixture';
import { BackfillWorkflow, SyncCycleWorkflow } from '../../../workflows';
import { checkAfterFault } from '../../support/faultCheck';
import { count, startHarness, type SyncHarness } from '../../support/syncHarness';
import { BACKFILL, pagesOf, processClient, processQueue, spawnWorker, startBackfillHarness, stopWorker } from '../../support/workerProcess';

/**
 * The worker process killed without warning (SIGKILL) in the middle of its work, then started
 * again: Temporal retries what was in flight, and nothing is lost or written twice.
 */

async function waitFor(what: string, probe: () => Promise<boolean>, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('worker killed mid-backfill', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startBackfillHarness();
  });
  afterAll(async () => h?.close());

  it('loses nothing and duplicates nothing after SIGKILL and a restart', async () => {
    const started = Date.now();
    const config = { SYNC_TABLES_CONFIG: pagesOf(h, BACKFILL.pageSize) };
    let worker = spawnWorker(h, config);
    const client = await processClient(h);
    const handle = await client.workflow.start(BackfillWorkflow, {
      taskQueue: processQueue(h),
      workflowId: `backfill/deliveries/crash-${h.env.TEMPORAL_TASK_QUEUE}`,
      args: [{ table: 'deliveries' }],
    });
    // Into the empty orders table the backfill is one transaction (src/apply/bulkLoad.ts): mid-load is while it holds the table's lock.
    const loading = `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'orders' AND l.mode = 'AccessExclusiveLock' AND l.granted`;
    await waitFor('the load under way', async () => (await count(h.pool, loading)) > 0);
    await stopWorker(worker, 'SIGKILL');
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal WHERE table_name = 'orders'`)).toBe(0);

    worker = spawnWorker(h, config);
    try {
      expect((await handle.result()).status).toBe('completed');
    } finally {
      await stopWorker(worker);
      await client.connection.close();
    }
    // Each row journaled once (a load's entry covers a range of ids).
    expect(await count(h.pool, `SELECT sum(COALESCE(last_row_id - row_id + 1, 1)) FROM sync_journal WHERE table_name = 'orders' AND operation = 'insert'`)).toBe(BACKFILL.deliveries);
    const outcome = await checkAfterFault(h, 'worker SIGKILL mid-backfill, restarted', started);
    expect(outcome).toMatchObject({ rowsChecked: BACKFILL.deliveries + BACKFILL.clients + BACKFILL.drivers, lost: 0, duplicated: 0, differences: 0, heldBack: 0, result: 'pass' });
  }, 300_000);
});

describe('worker killed mid-write-back', () => {
  let h: SyncHarness;
  const ORDERS = 1000;
  const legacyDeliveries = () => {
    const db = new Database(h.legacyPath, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 22, clients: 100, drivers: 5, deliveries: 2000 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('writes every order to legacy exactly once after SIGKILL and a restart', async () => {
    const started = Date.now();
    const before = legacyDeliveries();
    await h.pool.query(
      `INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes, updated_at)
       SELECT (SELECT id FROM customers ORDER BY id LIMIT 1), '2026-11-26', 1 + g % 3, 'pending', 900 + g, '新系統第' || g || '筆', now()
       FROM generate_series(1, $1) g`,
      [ORDERS],
    );
    // Batches of 25: the write-back is still going when the first orders reach legacy.
    const configFile = pagesOf(h, 25);
    let worker = spawnWorker(h, { SYNC_TABLES_CONFIG: configFile });
    const client = await processClient(h);
    const handle = await client.workflow.start(SyncCycleWorkflow, {
      taskQueue: processQueue(h),
      workflowId: `sync-cycle/write-back-crash-${h.env.TEMPORAL_TASK_QUEUE}`,
      args: [{ tables: ['deliveries'] }],
    });
    await waitFor('the first written orders', async () => legacyDeliveries() > before);
    await stopWorker(worker, 'SIGKILL');
    expect(legacyDeliveries()).toBeLessThan(before + ORDERS);

    worker = spawnWorker(h, { SYNC_TABLES_CONFIG: configFile });
    try {
      await handle.result();
    } finally {
      await stopWorker(worker);
      await client.connection.close();
    }
    expect(legacyDeliveries()).toBe(before + ORDERS);
    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE legacy_id IS NULL')).toBe(0);
    const outcome = await checkAfterFault(h, 'worker SIGKILL mid-write-back, restarted', started);
    expect(outcome).toMatchObject({ rowsChecked: 100 + 5 + before + ORDERS, lost: 0, duplicated: 0, differences: 0, heldBack: 0, result: 'pass' });
  }, 300_000);
});
