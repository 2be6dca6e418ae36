import { BackfillWorkflow } from '../../workflows';
import type { SyncHarness } from '../support/syncHarness';
import { BACKFILL, pagesOf, processClient, processQueue, spawnWorker, startBackfillHarness, stopWorker } from '../support/workerProcess';

/** Two worker processes on one task queue share the work (a killed worker: faults/processKills). */
describe('workers in their own processes', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startBackfillHarness();
    // Loaded first (into the empty table a load is one transaction, one activity): the backfill then reads every page again.
    await h.runCycle(['deliveries']);
  });
  afterAll(async () => h?.close());

  it('share a backfill when two poll the same task queue', async () => {
    const queue = processQueue(h);
    const config = { SYNC_TABLES_CONFIG: pagesOf(h, BACKFILL.pageSize) };
    const workers = [spawnWorker(h, config), spawnWorker(h, config)];
    const client = await processClient(h);
    try {
      const handle = await client.workflow.start(BackfillWorkflow, {
        taskQueue: queue,
        workflowId: `backfill/deliveries/shared-${h.env.TEMPORAL_TASK_QUEUE}`,
        args: [{ table: 'deliveries' }],
      });
      const result = await handle.result();
      expect(result.status).toBe('completed');
      // Which worker ran each activity is in the history: both took part.
      const identities = new Set<string>();
      for (const event of (await handle.fetchHistory()).events ?? []) {
        const identity = event.activityTaskStartedEventAttributes?.identity;
        if (identity) identities.add(identity);
      }
      expect(identities.size).toBe(2);
    } finally {
      await Promise.all(workers.map((w) => stopWorker(w)));
      await client?.connection.close();
    }
  }, 300_000);
});
