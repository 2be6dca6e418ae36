import Database from 'better-sqlite3';
import { WorkflowFailedError } from '@temporalio/client';
import { loadSyncConfig } from '../../src/config/tables';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { computeHealth } from '../../src/monitor/health';
import { loadThresholds } from '../../src/monitor/thresholds';
import { tableStatus } from '../../src/state/status';
import { SyncCycleWorkflow } from '../../workflows';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * A child failing mid-cycle: the legacy deliveries table becomes unreadable after the cycle
 * was planned. Every run records its end: nothing stays `running`; the failure and what was
 * skipped because of it are what status and /health say.
 */

describe('a table failing in the middle of a cycle', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    // Enough clients that their first load is still going when deliveries' table goes away.
    generateLegacyDb({ path: h.legacyPath, seed: 71, clients: 20_000, drivers: 5, deliveries: 100 });
  });
  afterAll(async () => h?.close());

  it('records the failed run, the runs it skipped and why, and leaves none running', async () => {
    const handle = await h.client.workflow.start(SyncCycleWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `sync-cycle/failing/${h.env.TEMPORAL_TASK_QUEUE}`, args: [{}] });
    // Planned: the clients run is under way (deliveries waits for its parents).
    for (let i = 0; i < 600 && (await count(h.pool, `SELECT count(*) FROM sync_runs WHERE table_name = 'clients' AND status = 'running'`)) === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const db = new Database(h.legacyPath);
    db.exec('ALTER TABLE deliveries RENAME TO deliveries_gone');
    db.close();

    const failure = await handle.result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String((failure as WorkflowFailedError).cause?.message)).toMatch(/deliveries: .*has no table deliveries/);

    const runs = await h.pool.query(`SELECT table_name, direction, status, error FROM sync_runs WHERE parent_id = $1 ORDER BY table_name, direction`, [handle.workflowId]);
    expect(runs.rows).toEqual([
      { table_name: 'clients', direction: 'legacy-to-new', status: 'completed', error: null },
      { table_name: 'deliveries', direction: 'legacy-to-new', status: 'failed', error: expect.stringMatching(/has no table deliveries/) },
      { table_name: 'deliveries', direction: 'new-to-legacy', status: 'skipped', error: 'not started: deliveries legacy-to-new failed in this cycle' },
      { table_name: 'drivers', direction: 'legacy-to-new', status: 'completed', error: null },
    ]);
    expect(await count(h.pool, `SELECT count(*) FROM sync_runs WHERE status = 'running'`)).toBe(0);

    const tables = loadSyncConfig(h.env.SYNC_TABLES_CONFIG).tables.flatMap((t) => t.directions.map((direction) => ({ table: t.legacyTable, direction })));
    const status = await tableStatus(h.pool, tables);
    expect(status.find((s) => s.table === 'deliveries' && s.direction === 'legacy-to-new')).toMatchObject({ lastOutcome: 'failed', lastReason: expect.stringMatching(/has no table deliveries/) });
    expect(status.find((s) => s.table === 'deliveries' && s.direction === 'new-to-legacy')).toMatchObject({ lastOutcome: 'skipped', lastReason: 'not started: deliveries legacy-to-new failed in this cycle' });
    const health = await computeHealth(h.pool, loadThresholds({}), new Date(), { tables });
    const lag = (table: string, direction: string) => health.checks.find((c) => c.name === 'sync_lag' && c.details?.table === table && c.details?.direction === direction);
    expect(lag('deliveries', 'legacy-to-new')?.message).toMatch(/last run failed: .*has no table deliveries/);
    expect(lag('deliveries', 'new-to-legacy')?.message).toMatch(/last run skipped: not started: deliveries legacy-to-new failed in this cycle/);
    expect(health.status).toBe('critical'); // deliveries never completed
  }, 120_000);
});
