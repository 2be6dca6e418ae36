import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCoreActivities, createLegacyActivities } from '../../activities';
import { generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';
import { rawImage } from '../../src/capture/rawRow';
import { TABLE_MAPPINGS } from '../../src/convert/tables';
import { readByIds } from '../../src/capture/legacyReader';
import { installTriggers } from '../../src/capture/legacyTriggers';
import { resolveTemporalCli } from '../../src/stack/temporal';
import { SCHEDULE_ID } from '../../src/shared';
import type { RollbackPageResult, RollbackResult, RollbackSelection } from '../../src/shared';
import { configWith, count, startHarness, type SyncHarness } from '../support/syncHarness';
import { testStackSettings } from '../support/testStack';
import { BackfillWorkflow, RollbackWorkflow } from '../../workflows';

type Snapshot = Record<string, unknown[]>;

async function pgSnapshot(pool: pg.Pool): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const t of ['customers', 'drivers', 'orders']) out[t] = (await pool.query(`SELECT to_jsonb(t) AS r FROM ${t} t ORDER BY id`)).rows.map((r) => r.r);
  return out;
}

/** Every legacy row of the synced tables as raw images: text as the hex of its bytes. */
function legacySnapshot(file: string): Snapshot {
  const db = new Database(file, { readonly: true });
  try {
    const out: Snapshot = {};
    for (const m of Object.values(TABLE_MAPPINGS)) {
      const ids = (db.prepare(`SELECT id FROM ${m.legacyTable} ORDER BY id`).raw().all() as number[][]).map((r) => r[0]);
      out[m.legacyTable] = readByIds(db, m, ids).map(rawImage);
    }
    return out;
  } finally {
    db.close();
  }
}

function rollback(h: SyncHarness, input: Record<string, unknown>, id = `rollback/test/${h.env.TEMPORAL_TASK_QUEUE}/${Date.now()}`): Promise<RollbackResult> {
  return h.client.workflow.execute(RollbackWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: id, args: [input] });
}

async function asNewSystem(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  return pool.query(sql, params);
}

describe('rollback on Temporal', () => {
  let h: SyncHarness;
  let n = 0;
  const rollback = (input: Record<string, unknown>): Promise<RollbackResult> =>
    h.client.workflow.execute(RollbackWorkflow, {
      taskQueue: h.env.TEMPORAL_TASK_QUEUE,
      workflowId: `rollback/test/${h.env.TEMPORAL_TASK_QUEUE}/${n++}`,
      args: [input],
    });

  let cycle2 = '';
  let cycle3 = '';
  let firstRollback = '';
  let beforeCycle2: { pg: Snapshot; legacy: Snapshot };
  let afterCycle2: { pg: Snapshot; legacy: Snapshot };
  const edited = { clients: [] as number[], deliveries: [] as number[], newClient: 0, orderEdited: 0, orderCreated: 0 };

  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 5, clients: 120, drivers: 10, deliveries: 800 });
    await h.runCycle();

    // Between the cycles: the legacy application edits and inserts rows...
    const db = new Database(h.legacyPath);
    const setTitle = db.prepare(`UPDATE clients SET invoice_title = CAST(? AS TEXT), updated_at = ? WHERE id = ?`);
    for (const [i, id] of [3, 40, 77].entries()) {
      setTitle.run(legacyText(`改名瓦斯行${i}`, 'cp950'), `2030-01-01 08:00:0${i}`, id);
      edited.clients.push(id);
    }
    const setDelivery = db.prepare(`UPDATE deliveries SET amount = amount + 7, status = CAST(? AS TEXT), updated_at = ? WHERE id = ?`);
    for (const [i, id] of [10, 200, 650].entries()) {
      setDelivery.run(legacyText('已取消', 'cp950'), `2030-01-01 09:00:0${i}`, id);
      edited.deliveries.push(id);
    }
    edited.newClient = Number(
      db
        .prepare(`INSERT INTO clients (client_code, invoice_title, is_active, created_at, updated_at) VALUES ('CNEW1', CAST(? AS TEXT), 1, '2030-01-02 10:00:00', '2030-01-02 10:00:00')`)
        .run(legacyText('新開小吃店', 'cp950')).lastInsertRowid,
    );
    const addDelivery = db.prepare(
      `INSERT INTO deliveries (client_id, driver_id, delivery_date, cylinder_20kg, status, amount, created_at, updated_at)
       VALUES (?, 1, '2030-01-03', 2, CAST(? AS TEXT), 1600, '2030-01-03 08:00:00', '2030-01-03 08:00:00')`,
    );
    addDelivery.run(edited.newClient, legacyText('待配送', 'cp950'));
    addDelivery.run(edited.newClient, legacyText('已派車', 'cp950'));
    db.close();
    // ...and the new system edits an order and creates one (both to be written back to legacy).
    const order = (await h.pool.query(`SELECT id FROM orders WHERE legacy_id = 300`)).rows[0].id;
    await asNewSystem(h.pool, `UPDATE orders SET notes = '改期：下週一', amount = 4321, updated_at = now() WHERE id = $1`, [order]);
    edited.orderEdited = order;
    const customer = (await h.pool.query(`SELECT id FROM customers WHERE legacy_id = 5`)).rows[0].id;
    edited.orderCreated = (
      await asNewSystem(h.pool, `INSERT INTO orders (customer_id, delivery_date, qty_50kg, status, amount, notes) VALUES ($1, '2030-01-04', 1, 'pending', 2500, '新系統建立') RETURNING id`, [
        customer,
      ])
    ).rows[0].id;

    beforeCycle2 = { pg: await pgSnapshot(h.pool), legacy: legacySnapshot(h.legacyPath) };
    cycle2 = (await h.runCycle()).cycleId;
    afterCycle2 = { pg: await pgSnapshot(h.pool), legacy: legacySnapshot(h.legacyPath) };
  });
  afterAll(async () => h?.close());

  it('the second cycle changed both sides (the run to undo)', async () => {
    const sides = await h.pool.query<{ side: string; table_name: string; n: number }>(
      `SELECT j.side, j.table_name, count(*)::int AS n FROM sync_journal j JOIN sync_runs r ON r.id = j.run_id WHERE r.parent_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [cycle2],
    );
    expect(sides.rows).toEqual([
      { side: 'legacy', table_name: 'deliveries', n: 2 },
      { side: 'new', table_name: 'customers', n: 4 },
      { side: 'new', table_name: 'orders', n: 5 },
    ]);
    expect(afterCycle2.pg).not.toEqual(beforeCycle2.pg);
    expect(afterCycle2.legacy).not.toEqual(beforeCycle2.legacy);
  });

  it('a dry run reports what it would restore and changes nothing', async () => {
    const bookkeeping = async () => ({
      journal: await count(h.pool, 'SELECT count(*) FROM sync_journal'),
      runs: await count(h.pool, 'SELECT count(*) FROM sync_runs'),
      state: (await h.pool.query('SELECT * FROM sync_state ORDER BY 1, 2')).rows,
      rowState: (await h.pool.query('SELECT * FROM sync_row_state ORDER BY 1, 2')).rows,
      outbox: (await h.pool.query('SELECT * FROM sync_order_outbox ORDER BY id')).rows,
    });
    const prior = await bookkeeping();
    const r = await rollback({ runId: cycle2, dryRun: true });
    expect(r).toMatchObject({ dryRun: true, entries: 11, rows: 11, restored: 11, alreadyRestored: 0, conflictCount: 0, restoredBySide: { new: 9, legacy: 2 } });
    expect(r.schedule).toEqual({ paused: 'untouched (dry run)', resumed: 'no (dry run)' });
    expect(await pgSnapshot(h.pool)).toEqual(afterCycle2.pg);
    expect(legacySnapshot(h.legacyPath)).toEqual(afterCycle2.legacy);
    expect(await bookkeeping()).toEqual(prior);

    const since = await rollback({ since: '2000-01-01T00:00:00Z', tables: ['clients'], dryRun: true });
    // Every customer the sync ever wrote: undoing their inserts meets their orders, outside the selection.
    expect(since.selection.tables?.sort()).toEqual(['clients', 'customers']);
    expect(since.rows).toBe(121);
    expect(since.restoredBySide.legacy).toBe(0);
    expect(since.restored + since.conflictCount).toBe(121);
    expect(since.conflictCount).toBeGreaterThan(0);
    expect(since.conflicts[0]).toMatchObject({ side: 'new', table: 'customers', reason: expect.stringMatching(/^has dependants: .*orders/) });
    expect(await pgSnapshot(h.pool)).toEqual(afterCycle2.pg);
  });

  it('restores the exact before-images on both sides, and queues the restored rows to be read again', async () => {
    const r = await rollback({ runId: cycle2 });
    firstRollback = r.rollbackId;
    expect(r).toMatchObject({ dryRun: false, rows: 11, restored: 11, alreadyRestored: 0, conflictCount: 0, conflicts: [], restoredBySide: { new: 9, legacy: 2 } });
    expect(r.selection.runIds).toEqual(expect.arrayContaining([cycle2, `table-sync/clients/legacy-to-new/${cycle2}`]));
    expect(r.schedule).toEqual({ paused: 'not-found', resumed: 'no (not asked)' });

    expect(await pgSnapshot(h.pool)).toEqual(beforeCycle2.pg);
    expect(legacySnapshot(h.legacyPath)).toEqual(beforeCycle2.legacy);

    // Recorded as a run of its own, its changes journaled (undoable in turn).
    const run = await h.pool.query(`SELECT kind, status, rows_written, conflicts FROM sync_runs WHERE id = $1`, [r.rollbackId]);
    expect(run.rows[0]).toEqual({ kind: 'rollback', status: 'completed', rows_written: 11, conflicts: 0 });
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal WHERE run_id = $1 AND side = 'legacy'`, [r.rollbackId])).toBe(2);
    // The write-back undone: both orders wait in the outbox to be written back again; the new one lost its legacy id.
    expect(r.requeuedOrders).toBe(2);
    expect(await count(h.pool, `SELECT count(*) FROM sync_order_outbox WHERE processed_at IS NULL AND order_id = ANY($1)`, [[edited.orderEdited, edited.orderCreated]])).toBe(2);
    // The restored rows will be read again, whatever their timestamps: their hashes match nothing, and they wait in the repair queue
    // (3 edited clients and the new one; 3 edited deliveries and the 2 new ones; not the deliveries whose write-back was undone).
    expect(r.reread).toEqual({ clients: 4, deliveries: 5 });
    expect(await count(h.pool, `SELECT count(*) FROM sync_row_state WHERE table_name = 'clients' AND legacy_id = ANY($1) AND content_hash = ''`, [edited.clients])).toBe(3);
    const queued = await h.pool.query(`SELECT table_name, queue, count(*)::int AS n FROM sync_row_queue GROUP BY 1, 2 ORDER BY 1`);
    expect(queued.rows).toEqual([
      { table_name: 'clients', queue: 'repair', n: 4 },
      { table_name: 'deliveries', queue: 'repair', n: 5 },
    ]);
  });

  it('running the same rollback twice changes nothing the second time', async () => {
    const journal = await count(h.pool, 'SELECT count(*) FROM sync_journal');
    const state = (await h.pool.query('SELECT * FROM sync_state ORDER BY 1, 2')).rows;
    const r = await rollback({ runId: cycle2 });
    expect(r).toMatchObject({ rows: 11, restored: 0, alreadyRestored: 11, conflictCount: 0, requeuedOrders: 0, reread: {} });
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal')).toBe(journal);
    expect((await h.pool.query('SELECT * FROM sync_state ORDER BY 1, 2')).rows).toEqual(state);
    expect(await pgSnapshot(h.pool)).toEqual(beforeCycle2.pg);
    expect(legacySnapshot(h.legacyPath)).toEqual(beforeCycle2.legacy);
  });

  it('skips nothing: the next cycle applies the legacy edits and the write-back again', async () => {
    cycle3 = (await h.runCycle()).cycleId;
    const names = await h.pool.query(`SELECT name FROM customers WHERE legacy_id = ANY($1) ORDER BY legacy_id`, [edited.clients]);
    expect(names.rows.map((r) => r.name)).toEqual(['改名瓦斯行0', '改名瓦斯行1', '改名瓦斯行2']);
    expect(await count(h.pool, `SELECT count(*) FROM orders WHERE legacy_id = ANY($1) AND status = 'cancelled'`, [edited.deliveries])).toBe(3);
    expect(await count(h.pool, `SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.legacy_id = $1`, [edited.newClient])).toBe(2);
    const created = await h.pool.query(`SELECT legacy_id FROM orders WHERE id = $1`, [edited.orderCreated]);
    expect(created.rows[0].legacy_id).not.toBeNull();
    const db = new Database(h.legacyPath, { readonly: true });
    const written = db.prepare(`SELECT amount, CAST(notes AS BLOB) AS notes FROM deliveries WHERE id = 300`).get() as { amount: number; notes: Buffer };
    db.close();
    expect(written.amount).toBe(4321);
    expect(written.notes).toEqual(legacyText('改期：下週一', 'cp950'));
  });

  it('reports a row changed after the run as a conflict and skips it, unless forced (started with the temporal CLI)', async () => {
    const victim = (await h.pool.query(`SELECT id, name FROM customers WHERE legacy_id = $1`, [edited.clients[1]])).rows[0];
    await h.pool.query(`UPDATE customers SET name = '新系統改的名字' WHERE id = $1`, [victim.id]);

    const cli = resolveTemporalCli(testStackSettings());
    const workflowId = `rollback/test/${h.env.TEMPORAL_TASK_QUEUE}/temporal-cli`;
    const started = spawnSync(
      cli,
      [
        'workflow', 'start',
        '--address', process.env.TEST_TEMPORAL_ADDRESS!,
        '--namespace', h.env.TEMPORAL_NAMESPACE,
        '--task-queue', h.env.TEMPORAL_TASK_QUEUE,
        '--type', 'RollbackWorkflow',
        '--workflow-id', workflowId,
        '--input', JSON.stringify({ runId: cycle3 }),
      ],
      { encoding: 'utf8' },
    );
    expect({ status: started.status, stderr: started.stderr }).toEqual({ status: 0, stderr: '' });
    const r = (await h.client.workflow.getHandle(workflowId).result()) as RollbackResult;
    expect(r.rollbackId).toBe(workflowId);
    expect(r.conflictCount).toBe(1);
    expect(r.conflicts).toEqual([{ side: 'new', table: 'customers', rowId: victim.id, legacyId: edited.clients[1], reason: 'row changed after the run' }]);
    expect(r.restored).toBe(r.rows - 1);
    expect((await h.pool.query(`SELECT name FROM customers WHERE id = $1`, [victim.id])).rows[0].name).toBe('新系統改的名字');
    // Everything else of cycle 3 is undone; the legacy rows the write-back changed included.
    expect(legacySnapshot(h.legacyPath)).toEqual(beforeCycle2.legacy);

    const forced = await rollback({ runId: cycle3, force: true });
    expect(forced).toMatchObject({ restored: 1, conflictCount: 0 });
    expect(await pgSnapshot(h.pool)).toEqual(beforeCycle2.pg);
  });

  it('restores a legacy row to its before-image byte for byte', async () => {
    const db = new Database(h.legacyPath);
    const id = (db.prepare(`SELECT id FROM deliveries WHERE typeof(notes) = 'text' AND id > 400 ORDER BY id LIMIT 1`).get() as { id: number }).id;
    const before = rawImage(readByIds(db, TABLE_MAPPINGS.deliveries, [id])[0]);
    // What a write-back would do: new bytes, a EUDC character included, then its journal entry.
    db.prepare(`UPDATE deliveries SET notes = CAST(? AS TEXT), amount = 1, status = CAST(? AS TEXT), updated_at = '2030-05-05 05:05:05' WHERE id = ?`).run(
      Buffer.concat([legacyText('客戶', 'cp950') as Buffer, Buffer.from([0xfa, 0x40]), legacyText('改單', 'cp950') as Buffer]),
      legacyText('已送達', 'cp950'),
      id,
    );
    const after = rawImage(readByIds(db, TABLE_MAPPINGS.deliveries, [id])[0]);
    db.close();
    const runId = `test-writeback/${h.env.TEMPORAL_TASK_QUEUE}`;
    await h.pool.query(
      `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after) VALUES ($1, $1, 'legacy', 'deliveries', $2::int, $2::int, 'update', $3, $4)`,
      [runId, id, JSON.stringify(before), JSON.stringify(after)],
    );

    const r = await rollback({ runId });
    expect(r).toMatchObject({ restored: 1, restoredBySide: { new: 0, legacy: 1 }, conflictCount: 0 });
    const ro = new Database(h.legacyPath, { readonly: true });
    const now = rawImage(readByIds(ro, TABLE_MAPPINGS.deliveries, [id])[0]);
    const types = ro.prepare(`SELECT typeof(notes) AS notes, typeof(status) AS status, typeof(amount) AS amount FROM deliveries WHERE id = ?`).get(id);
    ro.close();
    expect(now).toEqual(before);
    expect(types).toEqual({ notes: 'text', status: 'text', amount: 'integer' });
    expect((await rollback({ runId })).alreadyRestored).toBe(1);
  });

  it('answers a page whose legacy restores were recorded before with its first result, without its claims; the same workflow id started again is a rollback of its own', async () => {
    const db = new Database(h.legacyPath);
    const id = (db.prepare(`SELECT id FROM deliveries WHERE id > 500 ORDER BY id LIMIT 1`).get() as { id: number }).id;
    const before = rawImage(readByIds(db, TABLE_MAPPINGS.deliveries, [id])[0]);
    db.prepare(`UPDATE deliveries SET amount = 2, updated_at = '2030-06-06 06:06:06' WHERE id = ?`).run(id);
    const after = rawImage(readByIds(db, TABLE_MAPPINGS.deliveries, [id])[0]);
    db.close();
    const runId = `test-writeback-recorded-twice/${h.env.TEMPORAL_TASK_QUEUE}`;
    await h.pool.query(
      `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after) VALUES ($1, $1, 'legacy', 'deliveries', $2::int, $2::int, 'update', $3, $4)`,
      [runId, id, JSON.stringify(before), JSON.stringify(after)],
    );
    // The rollback's steps by hand, as its workflow runs them, under one workflow execution.
    const rollbackId = `rollback/test/${h.env.TEMPORAL_TASK_QUEUE}/recorded-twice`;
    const core = createCoreActivities(h.workers!.core!);
    const legacy = createLegacyActivities(h.workers!.legacy!);
    const onePage = async (env: MockActivityEnvironment) => {
      const begun = (await env.run(core.beginRollback, { rollbackId, request: { runId, dryRun: false, force: false, resumeSchedule: false } })) as { selection: RollbackSelection };
      const batchKey = `${rollbackId}#0`;
      const page = (await env.run(core.rollbackPage, { rollbackId, batchKey, selection: begun.selection, before: null, limit: 100, dryRun: false, force: false })) as RollbackPageResult;
      expect(page.legacyBatch).toBe(batchKey);
      await env.run(legacy.restoreLegacy, { batchKey, rollbackId, dryRun: false, force: false });
      return () => env.run(core.recordLegacyRestores, { rollbackId, batchKey, dryRun: false });
    };
    const journaled = () => count(h.pool, `SELECT count(*) FROM sync_journal WHERE run_id = $1 AND side = 'legacy' AND row_id = $2`, [rollbackId, id]);
    const record = await onePage(new MockActivityEnvironment({ workflowExecution: { workflowId: rollbackId, runId: 'first-execution' } }));
    expect(await record()).toMatchObject({ restored: 1, alreadyRestored: 0, restoredBySide: { new: 0, legacy: 1 } });
    expect(await journaled()).toBe(1);
    // The step runs again (a worker died after the commit, before it reported): its claims are gone, its result is not.
    expect(await record()).toMatchObject({ restored: 1, alreadyRestored: 0, restoredBySide: { new: 0, legacy: 1 }, replayed: true });
    expect(await journaled()).toBe(1);
    const ro = new Database(h.legacyPath, { readonly: true });
    expect(rawImage(readByIds(ro, TABLE_MAPPINGS.deliveries, [id])[0])).toEqual(before);
    ro.close();
    // Started again under the same workflow id (which may select other rows): its page is recorded anew, not answered from the first.
    const again = await onePage(new MockActivityEnvironment({ workflowExecution: { workflowId: rollbackId, runId: 'second-execution' } }));
    expect(await again()).not.toHaveProperty('replayed');
    expect(await count(h.pool, `SELECT count(*) FROM sync_batches WHERE run_id = $1 AND direction = 'rollback'`, [rollbackId])).toBe(2);
    expect(await journaled()).toBe(1);
  });

  it('pauses the sync schedule, and resumes it only when asked', async () => {
    const handle = await h.client.schedule.create({
      scheduleId: SCHEDULE_ID,
      spec: { cronExpressions: ['0 0 1 1 *'] },
      action: { type: 'startWorkflow', workflowType: 'SyncCycleWorkflow', workflowId: 'sync-cycle/scheduled', taskQueue: h.env.TEMPORAL_TASK_QUEUE, args: [{}] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    try {
      // A rollback that fails before restoring anything leaves the schedule as it found it.
      await expect(rollback({ runId: 'no-such-run' })).rejects.toThrow(/Workflow execution failed/);
      expect((await handle.describe()).state.paused).toBe(false);
      const kept = await rollback({ runId: cycle2 });
      expect(kept.schedule).toEqual({ paused: 'paused', resumed: 'no (not asked)' });
      expect((await handle.describe()).state.paused).toBe(true);
      const resumed = await rollback({ runId: cycle2, resumeSchedule: true });
      expect(resumed.schedule).toEqual({ paused: 'already-paused', resumed: 'resumed' });
      expect((await handle.describe()).state.paused).toBe(false);
    } finally {
      await handle.delete();
    }
  });

  it('runs from the CLI: rollback --run ID --dry-run --json, and refuses --run with --since', async () => {
    const { buildProgram } = await import('../../src/cli/main');
    const saved = { ...process.env };
    Object.assign(process.env, {
      LEGACY_DB_PATH: h.env.LEGACY_DB_PATH,
      DATABASE_URL: h.env.DATABASE_URL,
      REDIS_URL: h.env.REDIS_URL,
      TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: h.env.TEMPORAL_TASK_QUEUE,
    });
    const out: string[] = [];
    const errs: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (errs.push(String(s)), true));
    const exitCode = process.exitCode;
    try {
      await (await buildProgram()).parseAsync(['node', 'luckygas-sync', 'rollback', '--run', cycle2, '--dry-run', '--json']);
      const r = JSON.parse(out.join('')) as RollbackResult;
      expect(r.rollbackId).toMatch(/^rollback\/\d{4}-/);
      expect(r).toMatchObject({ dryRun: true, rows: 11, restored: 0, alreadyRestored: 11, conflictCount: 0 });
      expect(process.exitCode ?? 0).toBe(0);
      await (await buildProgram()).parseAsync(['node', 'luckygas-sync', 'rollback', '--run', cycle2, '--since', '2030-01-01']);
      expect(process.exitCode).toBe(2);
      expect(errs.join('')).toMatch(/exactly one of --run ID or --since TIME/);
    } finally {
      write.mockRestore();
      err.mockRestore();
      process.exitCode = exitCode;
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('a rollback is a run of its own: undoing it brings back what the undone cycle had written', async () => {
    const r = await rollback({ runId: firstRollback });
    expect(r).toMatchObject({ conflictCount: 0, alreadyRestored: 0 });
    expect(r.restored).toBe(r.rows);
    expect(await pgSnapshot(h.pool)).toEqual(afterCycle2.pg);
    expect(legacySnapshot(h.legacyPath)).toEqual(afterCycle2.legacy);
  });

  it('refuses an unknown run and a request with both or neither of runId and since', async () => {
    await expect(rollback({ runId: 'no-such-run' })).rejects.toThrow(/Workflow execution failed/);
    await expect(rollback({ runId: cycle2, since: '2030-01-01T00:00:00Z' })).rejects.toThrow(/Workflow execution failed/);
    const failed = await h.client.workflow.getHandle(`rollback/test/${h.env.TEMPORAL_TASK_QUEUE}/${n - 2}`).describe();
    expect(failed.status.name).toBe('FAILED');
  });
});

describe('rollback of a first sync (each table loaded into its empty new table, journaled as one range)', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('removes the loaded rows, reports one written since the load as changed, and removes it too when forced', async () => {
    generateLegacyDb({ path: h.legacyPath, seed: 7, clients: 60, drivers: 5, deliveries: 300 });
    const { cycleId } = await h.runCycle();
    const ranges = await h.pool.query<{ table_name: string; n: number }>(`SELECT table_name, (last_row_id - row_id + 1)::int AS n FROM sync_journal WHERE last_row_id IS NOT NULL`);
    const loaded = { customers: await count(h.pool, 'SELECT count(*) FROM customers'), drivers: await count(h.pool, 'SELECT count(*) FROM drivers'), orders: await count(h.pool, 'SELECT count(*) FROM orders') };
    expect(Object.fromEntries(ranges.rows.map((r) => [r.table_name, r.n]))).toEqual(loaded);
    // No image per row: the journal holds one entry per table.
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal')).toBe(3);

    const victim = (await h.pool.query<{ id: number; legacy_id: number; customer_id: number }>(`SELECT id, legacy_id, customer_id FROM orders ORDER BY id LIMIT 1 OFFSET 10`)).rows[0];
    await asNewSystem(h.pool, `UPDATE orders SET notes = '載入後改的' WHERE id = $1`, [victim.id]);

    const r = await rollback(h, { runId: cycleId });
    expect(r.rows).toBe(loaded.customers + loaded.drivers + loaded.orders);
    expect(r.conflicts).toContainEqual({ side: 'new', table: 'orders', rowId: victim.id, legacyId: victim.legacy_id, reason: 'row changed after the run' });
    // Its customer (and driver) keep it: they have a dependant.
    expect(r.conflicts.filter((c) => c.rowId !== victim.id).map((c) => c.reason)).toEqual(r.conflicts.filter((c) => c.rowId !== victim.id).map(() => expect.stringMatching(/^has dependants/)));
    expect(r.conflicts).toContainEqual(expect.objectContaining({ table: 'customers', rowId: victim.customer_id }));
    expect(r.restored).toBe(r.rows - r.conflictCount);
    expect((await h.pool.query(`SELECT id, notes FROM orders`)).rows).toEqual([{ id: victim.id, notes: '載入後改的' }]);
    expect(r.reread.deliveries).toBe(loaded.orders - 1);

    const forced = await rollback(h, { runId: cycleId, force: true });
    expect(forced).toMatchObject({ conflictCount: 0, restored: r.conflictCount });
    expect(loaded).not.toEqual({ customers: 0, drivers: 0, orders: 0 });
    for (const t of ['customers', 'drivers', 'orders']) expect(await count(h.pool, `SELECT count(*) FROM ${t}`)).toBe(0);
  });
});

describe('rollback in trigger mode (change capture in the legacy file)', () => {
  let h: SyncHarness;
  const queued = (table: string, id: number): number => {
    const db = new Database(h.legacyPath, { readonly: true });
    try {
      return (db.prepare(`SELECT count(*) AS n FROM sync_queue WHERE table_name = ? AND record_id = ?`).get(table, id) as { n: number }).n;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    h = await startHarness({ config: configWith((tables) => tables.forEach((t) => (t.changeDetection = 'trigger'))) });
    generateLegacyDb({ path: h.legacyPath, seed: 9, clients: 40, drivers: 5, deliveries: 200 });
    const db = new Database(h.legacyPath);
    installTriggers(db, ['clients', 'drivers', 'deliveries']);
    db.close();
    for (const table of ['clients', 'drivers', 'deliveries']) {
      await h.client.workflow.execute(BackfillWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `backfill/${table}/${h.env.TEMPORAL_TASK_QUEUE}`, args: [{ table }] });
    }
  });
  afterAll(async () => h?.close());

  it('queues the restored rows for re-reading, and does not capture its own legacy restores', async () => {
    const db = new Database(h.legacyPath);
    db.prepare(`UPDATE clients SET short_name = CAST(? AS TEXT), updated_at = '2030-01-01 00:00:00' WHERE id IN (4, 9)`).run(legacyText('改過', 'cp950'));
    db.close();
    const order = (await h.pool.query(`SELECT id FROM orders WHERE legacy_id = 50`)).rows[0].id;
    await h.pool.query(`UPDATE orders SET amount = 777, updated_at = now() WHERE id = $1`, [order]);
    const before = { pg: await pgSnapshot(h.pool), legacy: legacySnapshot(h.legacyPath) };
    const cycle = (await h.runCycle()).cycleId;
    expect((await h.pool.query(`SELECT short_name FROM customers WHERE legacy_id = 4`)).rows[0].short_name).toBe('改過');
    const queuedFor50 = queued('deliveries', 50);
    expect(queuedFor50).toBeGreaterThan(0); // the write-back's own write, captured by the trigger

    const r = await rollback(h, { runId: cycle });
    expect(r).toMatchObject({ conflictCount: 0, restoredBySide: { new: 2, legacy: 1 } });
    expect(r.reread).toEqual({ clients: 2 });
    expect(await pgSnapshot(h.pool)).toEqual(before.pg);
    expect(legacySnapshot(h.legacyPath)).toEqual(before.legacy);
    expect(queued('deliveries', 50)).toBe(queuedFor50);

    await h.runCycle();
    expect((await h.pool.query(`SELECT short_name FROM customers WHERE legacy_id = ANY($1) ORDER BY legacy_id`, [[4, 9]])).rows).toEqual([{ short_name: '改過' }, { short_name: '改過' }]);
    const db2 = new Database(h.legacyPath, { readonly: true });
    expect((db2.prepare(`SELECT amount FROM deliveries WHERE id = 50`).get() as { amount: number }).amount).toBe(777);
    db2.close();
  });
});
