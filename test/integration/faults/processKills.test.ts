import { BackfillWorkflow } from '../../../workflows';
import { checkAfterFault } from '../../support/faultCheck';
import { count, type SyncHarness } from '../../support/syncHarness';
import { BACKFILL, pagesOf, processClient, processQueue, spawnWorker, startBackfillHarness, stopWorker, waitFor } from '../../support/workerProcess';

/**
 * The worker process killed without warning (SIGKILL) in the middle of its work, then started
 * again: Temporal retries what was in flight, and nothing is lost or written twice. (Mid
 * write-back: writeBackKill.test.ts, a file of its own so that the two waits for Temporal to
 * give up on the killed worker run side by side.)
 */

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
