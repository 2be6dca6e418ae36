import Database from 'better-sqlite3';
import type pg from 'pg';
import { temporal } from '@temporalio/proto';
import { legacyText, generateLegacyDb } from '../../../src/fixtures/legacyFixture';
import { resolveConflictUpdate } from '../../../src/messages';
import { ids, type ConflictResolution, type CycleSummary } from '../../../src/shared';
import { BackfillWorkflow, ConflictReviewWorkflow, ConsistencyCheckWorkflow, DescribeLegacyWorkflow, LegacyTriggersWorkflow, RollbackWorkflow } from '../../../workflows';
import { configWith, count, startHarness, type SyncHarness } from '../../support/syncHarness';
import { writeHistory } from '../historyFiles';

/**
 * Records the histories that test/replay replays: real runs of every workflow type on the
 * tests' local stack, through the harness. Run by `npm run record-histories`, never by
 * `npm test`. Each scenario checks that the run did what its file name says, so a recording
 * cannot silently miss the path it is meant to keep.
 */

const label = (h: SyncHarness) => h.env.TEMPORAL_TASK_QUEUE;

/** Saves the history of a run (its latest run unless a run id is given), named <scenario>.<workflow type>.json. */
async function record(h: SyncHarness, scenario: string, workflowId: string, runId?: string): Promise<{ types: string[] }> {
  const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
  if (!type) throw new Error(`${workflowId}: no workflow start in its history`);
  writeHistory(`${scenario}.${type}.json`, history);
  // What the run did, for the scenario's checks: activity types (local ones from their markers) and the event types.
  const types = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? localActivityType(e) ?? temporal.api.enums.v1.EventType[e.eventType ?? 0]);
  return { types };
}

/** A local activity's type, from its marker (the SDK core's JSON in the marker's `data` detail). */
function localActivityType(e: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const m = e.markerRecordedEventAttributes;
  const data = m?.markerName === 'core_local_activity' ? m.details?.data?.payloads?.[0]?.data : undefined;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type: string }).activity_type : undefined;
}

/** Rows written by the sync itself: the outbox trigger ignores them (as in the consistency tests). */
async function asSync(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
    await client.query(sql, params);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

function legacy(h: SyncHarness, body: (db: Database.Database) => void): void {
  const db = new Database(h.legacyPath);
  try {
    db.pragma('foreign_keys = OFF'); // the legacy application does not enforce them either
    body(db);
  } finally {
    db.close();
  }
}

const FUTURE_CLIENT = 900000;

describe('a first load, a cycle in both directions, a consistency check with repair, rollbacks', () => {
  let h: SyncHarness;
  let first: CycleSummary;
  let cycle: CycleSummary;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 31, clients: 20, drivers: 3, deliveries: 40 });
    first = await h.runCycle();
    // A delivery whose client legacy has not got yet: it waits in the parent row queue. A later
    // delivery moves the watermark past it by more than the lookback window, so the next
    // cycle's pages do not read it again: the parent queue's pass does.
    legacy(h, (db) => {
      const insert = db.prepare(
        `INSERT INTO deliveries (client_id, driver_id, delivery_date, status, amount, created_at, updated_at)
         VALUES (?, NULL, '2030-01-02', CAST(? AS TEXT), 800, ?, ?)`,
      );
      const firstClient = (db.prepare('SELECT min(id) AS id FROM clients').get() as { id: number }).id;
      insert.run(FUTURE_CLIENT, legacyText('待配送', 'cp950'), '2030-01-02 08:00:00', '2030-01-02 08:00:00');
      insert.run(firstClient, legacyText('待配送', 'cp950'), '2030-01-02 12:00:00', '2030-01-02 12:00:00');
    });
    await h.runCycle();
    expect(await count(h.pool, `SELECT count(*) FROM sync_row_queue WHERE table_name = 'deliveries' AND queue = 'parent'`)).toBe(1);
  });
  afterAll(async () => h?.close());

  it('records the first load of an empty table: one transaction, the legacy agent streaming its pages', async () => {
    const load = await record(h, 'initial-load', ids.tableSync('deliveries', 'legacy-to-new', first.cycleId));
    expect(load.types).toEqual(expect.arrayContaining(['captureTable', 'loadTable', 'EVENT_TYPE_MARKER_RECORDED']));
    // The cycle that started it, parents' level first.
    const cycle = await record(h, 'initial-load', first.cycleId);
    expect(cycle.types).toEqual(expect.arrayContaining(['planCycle', 'probeTables', 'beginCycleRuns', 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED']));
  });

  it('records a cycle: the client arrives, its delivery leaves the parent queue in the same run, and an order is written back', async () => {
    legacy(h, (db) => {
      db.prepare(
        `INSERT INTO clients (id, client_code, invoice_title, is_active, created_at, updated_at) VALUES (?, 'C900000', CAST(? AS TEXT), 1, '2030-01-03 00:00:00', '2030-01-03 00:00:00')`,
      ).run(FUTURE_CLIENT, legacyText('新客戶', 'cp950'));
      db.prepare(`UPDATE deliveries SET amount = 4321, updated_at = '2030-01-03 09:00:00' WHERE id = (SELECT min(id) FROM deliveries)`).run();
    });
    const customer = (await h.pool.query(`SELECT id FROM customers ORDER BY id LIMIT 1`)).rows[0].id as number;
    await h.pool.query(`INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes, updated_at) VALUES ($1, '2031-05-06', 2, 'pending', 1500, '新系統的訂單', now())`, [customer]);

    cycle = await h.runCycle();
    expect(cycle.tables.map((t) => [t.table, t.direction, t.status])).toEqual([
      ['clients', 'legacy-to-new', 'completed'],
      ['drivers', 'legacy-to-new', 'completed'],
      ['deliveries', 'legacy-to-new', 'completed'],
      ['deliveries', 'new-to-legacy', 'completed'],
    ]);
    expect(await count(h.pool, `SELECT count(*) FROM sync_row_queue WHERE table_name = 'deliveries'`)).toBe(0);
    expect(await count(h.pool, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.legacy_id = $1`, [FUTURE_CLIENT])).toBe(1);
    expect(await count(h.pool, `SELECT count(*) FROM orders WHERE notes = '新系統的訂單' AND legacy_id IS NOT NULL`)).toBe(1);

    await record(h, 'cycle-both-directions', cycle.cycleId);
    const deliveries = await record(h, 'cycle-both-directions', ids.tableSync('deliveries', 'legacy-to-new', cycle.cycleId));
    // Its pages, then the pass over the parent queue.
    expect(deliveries.types).toEqual(expect.arrayContaining(['applyBatch', 'queuedRowIds', 'captureRows']));
    const writeBack = await record(h, 'cycle-both-directions', ids.tableSync('deliveries', 'new-to-legacy', cycle.cycleId));
    expect(writeBack.types).toEqual(expect.arrayContaining(['planWriteBack', 'writeLegacy', 'recordWriteBack']));
  });

  it('records a consistency check that repairs a difference through a repair run', async () => {
    await asSync(h.pool, `UPDATE customers SET name = name || '（錯）' WHERE id = (SELECT min(id) FROM customers)`);
    const checkId = ids.check('manual', `record-${label(h)}`);
    const result = await h.client.workflow.execute(ConsistencyCheckWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: checkId, args: [{ repair: true, tables: ['clients'] }] });
    expect(result).toMatchObject({ status: 'clean', repair: true, beforeRepair: { differences: 1 } });
    await record(h, 'consistency-repair', checkId);
    const repair = await record(h, 'consistency-repair', ids.repair('clients', checkId));
    expect(repair.types).toEqual(expect.arrayContaining(['queuedRowIds', 'captureRows', 'applyBatch']));
  });

  it('records a rollback of the cycle, both sides restored', async () => {
    const rollbackId = ids.rollback(`record-run-${label(h)}`);
    const result = await h.client.workflow.execute(RollbackWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: rollbackId, args: [{ runId: cycle.cycleId }] });
    expect(result.restored).toBeGreaterThan(0);
    expect(result.restoredBySide.legacy).toBeGreaterThan(0);
    await record(h, 'rollback-run', rollbackId);
  });

  it('records a rollback in since mode, for one table', async () => {
    const since = (await h.pool.query(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t`)).rows[0].t as string;
    legacy(h, (db) => db.prepare(`UPDATE clients SET invoice_title = CAST(? AS TEXT), updated_at = '2030-02-01 00:00:00' WHERE id = (SELECT max(id) FROM clients WHERE id < ?)`).run(legacyText('改名行', 'cp950'), FUTURE_CLIENT));
    await h.runCycle(['clients']);
    const rollbackId = ids.rollback(`record-since-${label(h)}`);
    const result = await h.client.workflow.execute(RollbackWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: rollbackId, args: [{ since, tables: ['clients'] }] });
    expect(result).toMatchObject({ selection: { since, runIds: null, tables: expect.arrayContaining(['clients']) } });
    expect(result.restored).toBeGreaterThan(0);
    await record(h, 'rollback-since', rollbackId);
  });
});

describe('a backfill that continues as new, trigger installation', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    // One driver a page: 130 drivers are 131 pages (the last open-ended), past the 100 batches of a run.
    h = await startHarness({ config: configWith((tables) => (tables.find((t) => t.legacyTable === 'drivers')!.backfillBatchSize = 1)) });
    generateLegacyDb({ path: h.legacyPath, seed: 37, clients: 5, drivers: 130, deliveries: 5 });
    // Loaded first: into an empty table a backfill is one transaction, and would not page.
    await h.runCycle(['drivers']);
  });
  afterAll(async () => h?.close());

  it('records both runs of a backfill', async () => {
    const handle = await h.client.workflow.start(BackfillWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: ids.backfill('drivers'), args: [{ table: 'drivers' }] });
    const summary = await handle.result();
    expect(summary).toMatchObject({ status: 'completed', read: 130, written: 0 });
    const first = await record(h, 'backfill', handle.workflowId, handle.firstExecutionRunId);
    expect(first.types.at(-1)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    const continued = await record(h, 'backfill-continued', handle.workflowId);
    expect(continued.types.at(-1)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
  });

  it('records the installation of change-capture triggers', async () => {
    const workflowId = ids.legacyFile('install-triggers', `record-${label(h)}`);
    const installed = await h.client.workflow.execute(LegacyTriggersWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId, args: [{ action: 'install', tables: ['drivers'] }] });
    expect(installed.length).toBeGreaterThan(0);
    await record(h, 'triggers-install', workflowId);
  });

  it('records the look at the legacy file that doctor asks for', async () => {
    const workflowId = ids.legacyFile('describe', `record-${label(h)}`);
    const seen = await h.client.workflow.execute(DescribeLegacyWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId, args: [] });
    expect(seen.file).toBe(h.legacyPath);
    await record(h, 'doctor', workflowId);
  });
});

describe('a conflict resolved by an operator', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness({ config: configWith((tables) => (tables.find((t) => t.legacyTable === 'deliveries')!.conflictResolution = 'manual')) });
    generateLegacyDb({ path: h.legacyPath, seed: 41, clients: 10, drivers: 2, deliveries: 20 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('records a review: a failed resolution leaves it open, a good one completes it', async () => {
    const id = (await h.pool.query(`SELECT legacy_id FROM orders WHERE legacy_id IS NOT NULL ORDER BY legacy_id LIMIT 1`)).rows[0].legacy_id as number;
    legacy(h, (db) => db.prepare(`UPDATE deliveries SET notes = CAST(? AS TEXT), updated_at = '2033-02-01 09:00:00' WHERE id = ?`).run(legacyText('舊系統說', 'cp950'), id));
    await h.pool.query(`UPDATE orders SET notes = '新系統說', updated_at = now() WHERE legacy_id = $1`, [id]);
    await h.runCycle();
    const conflictId = Number((await h.pool.query(`SELECT id FROM sync_conflicts WHERE legacy_id = $1 AND status = 'open'`, [id])).rows[0].id);
    const review = h.client.workflow.getHandle<typeof ConflictReviewWorkflow>(ids.review(conflictId));
    const resolve = (r: ConflictResolution) => review.executeUpdate(resolveConflictUpdate, { args: [r] });
    await expect(resolve({ take: 'sideways' as ConflictResolution['take'] })).rejects.toThrow();
    await expect(resolve({ take: 'new', set: { no_such_column: 1 } })).rejects.toThrow();
    const outcome = await resolve({ take: 'legacy', by: 'recorder' });
    expect(outcome).toMatchObject({ conflictId, writtenBack: true });
    expect(await review.result()).toEqual(outcome);
    const reviewed = await record(h, 'conflict-review', review.workflowId);
    expect(reviewed.types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED')).toHaveLength(2);
  });
});

describe('a run that fails', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 43, clients: 5, drivers: 2, deliveries: 5 });
    legacy(h, (db) => db.exec('DROP TABLE drivers'));
  });
  afterAll(async () => h?.close());

  it('records a cycle on a legacy file without the contract\'s tables', async () => {
    await expect(h.runCycle(['clients'])).rejects.toThrow();
    const cycleId = `sync-cycle/test/${label(h)}/0`;
    const failed = await record(h, 'failed-cycle', cycleId);
    expect(failed.types.at(-1)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
  });
});
