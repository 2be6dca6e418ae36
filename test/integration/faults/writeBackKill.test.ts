import { generateLegacyDb } from '../../../src/fixtures/legacyFixture';
import { SyncCycleWorkflow } from '../../../workflows';
import { checkAfterFault } from '../../support/faultCheck';
import { count, legacyCount, startHarness, type SyncHarness } from '../../support/syncHarness';
import { pagesOf, processClient, processQueue, spawnWorker, stopWorker, waitFor } from '../../support/workerProcess';

/**
 * The worker process killed without warning (SIGKILL) while it writes orders to legacy, then
 * started again: every order reaches legacy exactly once.
 */

describe('worker killed mid-write-back', () => {
  let h: SyncHarness;
  const ORDERS = 1000;
  const legacyDeliveries = () => legacyCount(h.legacyPath, 'deliveries');
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
