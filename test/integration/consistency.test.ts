import Database from 'better-sqlite3';
import iconv from 'iconv-lite';
import type pg from 'pg';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCoreActivities, createLegacyActivities } from '../../activities';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { loadEudcMap } from '../../src/encoding/eudc';
import type { ChunkReport, ConsistencyResult, TableReport } from '../../src/shared';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';
import { ConsistencyCheckWorkflow } from '../../workflows';

/** A change made as the sync makes them (the orders outbox ignores it): drift, not a new-system edit. */
async function asSync(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
    const res = await client.query(sql, params);
    await client.query('COMMIT');
    return res;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

describe('consistency check on Temporal', () => {
  let h: SyncHarness;
  let n = 0;
  const check = (args: { tables?: string[]; repair?: boolean; chunkSize?: number } = {}): Promise<ConsistencyResult> =>
    h.client.workflow.execute(ConsistencyCheckWorkflow, {
      taskQueue: h.env.TEMPORAL_TASK_QUEUE,
      workflowId: `consistency-check/test/${h.env.TEMPORAL_TASK_QUEUE}/${n++}`,
      args: [args],
    });
  const table = (r: { tables: TableReport[] }, name: string): TableReport => r.tables.find((t) => t.table === name)!;

  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 11, clients: 300, drivers: 25, deliveries: 3000 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('reports zero differences on a clean pair, with exact counts, and stores the report', async () => {
    const r = await check({ chunkSize: 700 });
    expect(r.status).toBe('clean');
    expect(r.differences).toBe(0);
    expect(r.countWarnings).toEqual([]);
    expect(r.tables.map((t) => [t.table, t.newTable])).toEqual([
      ['clients', 'customers'],
      ['drivers', 'drivers'],
      ['deliveries', 'orders'],
    ]);
    const orders = table(r, 'deliveries');
    expect(orders.counts).toMatchObject({ legacy: 3000, newLive: 3000, newDeleted: 0, newUnlinked: 0, difference: 0, level: 'ok' });
    expect(orders.chunks).toBe(5); // 3000 rows in chunks of 700: memory stays flat, whatever the size
    expect(orders.matching).toBe(3000);
    expect(table(r, 'clients').matching).toBe(300);
    expect(table(r, 'drivers').matching).toBe(25);

    const stored = await h.pool.query(`SELECT status, differences, repair, finished_at, result FROM sync_consistency_reports WHERE id = $1`, [r.checkId]);
    expect(stored.rows[0]).toMatchObject({ status: 'completed', differences: 0, repair: false });
    expect(stored.rows[0].finished_at).not.toBeNull();
    expect(stored.rows[0].result.tables).toHaveLength(3);
  });

  it('counts held-back rows and new-system orders apart, not as differences', async () => {
    const db = new Database(h.legacyPath);
    const bad = Number(
      db
        .prepare(`INSERT INTO clients (client_code, invoice_title, is_active, created_at, updated_at) VALUES ('HB1', CAST(? AS TEXT), 1, '2020-01-01 10:00:00', '2030-02-01 00:00:00')`)
        .run(Buffer.from([0xa4, 0xa4, 0xfa, 0x7e])).lastInsertRowid,
    );
    db.close();
    await h.runCycle(['clients']);
    expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE row_id = $1 AND resolved_at IS NULL`, [bad])).toBe(1);
    // An order created in the new system and not written back yet.
    const customer = (await h.pool.query(`SELECT id FROM customers ORDER BY id LIMIT 1`)).rows[0].id;
    const created = await asSync(h.pool, `INSERT INTO orders (customer_id, delivery_date, status, amount) VALUES ($1, '2030-02-01', 'pending', 900) RETURNING id`, [customer]);

    const r = await check();
    expect(r.differences).toBe(0);
    expect(table(r, 'clients').heldBack).toBe(1);
    expect(table(r, 'clients').samples.heldBack).toEqual([{ legacyId: bad, reasonKind: 'decode', reason: expect.stringMatching(/unknown EUDC code FA7E/) }]);
    expect(table(r, 'deliveries').counts.newUnlinked).toBe(1);
    await asSync(h.pool, `DELETE FROM orders WHERE id = $1`, [created.rows[0].id]);
  });

  it('finds a missing row, an extra row, a changed field and a mis-decoded character; repair fixes them', async () => {
    const eudc = loadEudcMap();
    const eudcChars = [...eudc.toChar.values()];
    // A customer whose name holds a EUDC character: give it the Big5-HKSCS reading of that code.
    const victims = await h.pool.query<{ id: number; legacy_id: number; name: string }>(
      `SELECT id, legacy_id, name FROM customers WHERE name ~ $1 ORDER BY legacy_id LIMIT 1`,
      [`[${eudcChars.join('')}]`],
    );
    expect(victims.rows).toHaveLength(1);
    const victim = victims.rows[0];
    const ch = [...victim.name].find((c) => eudcChars.includes(c))!;
    const code = eudc.toCode.get(ch)!;
    const hkscs = iconv.decode(Buffer.from([code >> 8, code & 0xff]), 'big5');
    expect(hkscs).not.toBe(ch);
    const misread = victim.name.replace(ch, hkscs);
    await asSync(h.pool, `UPDATE customers SET name = $2 WHERE id = $1`, [victim.id, misread]);

    const orders = await h.pool.query<{ id: number; legacy_id: number; customer_id: number }>(
      `SELECT id, legacy_id, customer_id FROM orders WHERE amount IS NOT NULL AND legacy_id IS NOT NULL ORDER BY legacy_id`,
    );
    const missing = orders.rows[100];
    const changed = orders.rows[2500];
    const before = (await h.pool.query(`SELECT amount, updated_at FROM orders WHERE id = $1`, [changed.id])).rows[0];
    await asSync(h.pool, `DELETE FROM orders WHERE id = $1`, [missing.id]);
    await asSync(h.pool, `UPDATE orders SET amount = amount + 1 WHERE id = $1`, [changed.id]);
    const extraLegacyId = 990001;
    const extra = await asSync(
      h.pool,
      `INSERT INTO orders (customer_id, delivery_date, status, amount, legacy_id) VALUES ($1, '2030-03-01', 'pending', 500, $2) RETURNING id`,
      [missing.customer_id, extraLegacyId],
    );

    const found = await check({ chunkSize: 1000 });
    expect(found.status).toBe('differences');
    expect(found.differences).toBe(4);
    const o = table(found, 'deliveries');
    expect(o.missingInNew).toBe(1);
    expect(o.samples.missingInNew).toEqual([{ legacyId: missing.legacy_id }]);
    expect(o.missingInLegacy).toBe(1);
    expect(o.samples.missingInLegacy).toEqual([{ legacyId: extraLegacyId, newId: extra.rows[0].id }]);
    expect(o.differing).toBe(1);
    expect(o.samples.differing).toEqual([{ legacyId: changed.legacy_id, newId: changed.id, fields: ['amount'] }]);
    expect(o.fields).toEqual({ amount: 1 });
    const c = table(found, 'clients');
    expect(c.differing).toBe(1);
    expect(c.samples.differing).toEqual([{ legacyId: victim.legacy_id, newId: victim.id, fields: ['name'] }]);
    // Counts within 1 %: only the row-level comparison sees these.
    expect(found.countWarnings).toEqual([]);
    expect(o.counts).toMatchObject({ legacy: 3000, newLive: 3000 });

    const repaired = await check({ repair: true });
    expect(repaired.beforeRepair?.differences).toBe(4);
    expect(table(repaired.beforeRepair!, 'deliveries').repair).toMatchObject({ queued: 3, notRepaired: 0 });
    expect(table(repaired.beforeRepair!, 'clients').repair).toMatchObject({ queued: 1, notRepaired: 0 });
    expect(repaired.repairRuns?.map((r) => [r.table, r.status])).toEqual([
      ['clients', 'completed'],
      ['deliveries', 'completed'],
    ]);
    expect(repaired.differences).toBe(0);
    expect(repaired.status).toBe('clean');

    expect((await h.pool.query(`SELECT name FROM customers WHERE id = $1`, [victim.id])).rows[0].name).toBe(victim.name);
    expect((await h.pool.query(`SELECT amount, updated_at FROM orders WHERE id = $1`, [changed.id])).rows[0]).toEqual(before);
    expect(await count(h.pool, `SELECT count(*) FROM orders WHERE legacy_id = $1 AND deleted_at IS NULL`, [missing.legacy_id])).toBe(1);
    expect(await count(h.pool, `SELECT count(*) FROM orders WHERE id = $1 AND deleted_at IS NOT NULL`, [extra.rows[0].id])).toBe(1);
    // The repairs went through the pipeline: journaled under the check's own run, nothing left queued.
    expect(await count(h.pool, `SELECT count(*) FROM sync_runs WHERE parent_id = $1`, [repaired.checkId])).toBe(2);
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal j JOIN sync_runs r ON r.id = j.run_id WHERE r.parent_id = $1`, [repaired.checkId])).toBe(4);
    expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE reason_kind = 'repair' AND resolved_at IS NULL`)).toBe(0);
    const stored = await h.pool.query(`SELECT status, differences, repair, result FROM sync_consistency_reports WHERE id = $1`, [repaired.checkId]);
    expect(stored.rows[0]).toMatchObject({ status: 'completed', differences: 0, repair: true });
    expect(stored.rows[0].result.beforeRepair.differences).toBe(4);

    const again = await check();
    expect(again.differences).toBe(0);
  });

  it('leaves an order waiting to be written back alone: reported with why, not overwritten by repair', async () => {
    const o = (await h.pool.query(`SELECT id FROM orders WHERE legacy_id = 42`)).rows[0];
    // A new-system edit: captured by the orders outbox, written back by the next cycle.
    await h.pool.query(`UPDATE orders SET amount = 12345 WHERE id = $1`, [o.id]);
    const r = await check({ tables: ['deliveries'], repair: true });
    const before = table(r.beforeRepair!, 'deliveries');
    expect(before.samples.differing).toEqual([{ legacyId: 42, newId: o.id, fields: ['amount'], note: 'waiting in the orders outbox to be written back' }]);
    expect(before.repair).toEqual({ queued: 0, notRepaired: 1, notRepairedSample: [{ legacyId: 42, newId: o.id, reason: 'waiting in the orders outbox to be written back' }] });
    expect(r.repairRuns).toEqual([]);
    expect(r.differences).toBe(1);
    expect((await h.pool.query(`SELECT amount FROM orders WHERE id = $1`, [o.id])).rows[0].amount).toBe(12345);
  });

  it('runs from the CLI: check --json prints the report, exit 1 while differences remain', async () => {
    const row = (await h.pool.query(`SELECT id FROM drivers ORDER BY id LIMIT 1`)).rows[0];
    await asSync(h.pool, `UPDATE drivers SET familiar_areas = ARRAY['nowhere'] WHERE id = $1`, [row.id]);
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
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exitCode = process.exitCode;
    try {
      await (await buildProgram()).parseAsync(['node', 'luckygas-sync', 'check', '--table', 'drivers', '--json']);
      const report = JSON.parse(out.join('')) as ConsistencyResult;
      expect(report.checkId).toMatch(/^consistency-check\/manual\//);
      expect(report.tables.map((t) => t.table)).toEqual(['drivers']);
      expect(report.tables[0].samples.differing).toEqual([expect.objectContaining({ newId: row.id, fields: ['familiar_areas'] })]);
      expect(process.exitCode).toBe(1);
      out.length = 0;
      process.exitCode = undefined;
      await (await buildProgram()).parseAsync(['node', 'luckygas-sync', 'check', '--table', 'drivers', '--repair']);
      expect(out.join('')).toMatch(/before repair: 1 difference/);
      expect(out.join('')).toMatch(/\nconsistent\n/);
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      write.mockRestore();
      err.mockRestore();
      process.exitCode = exitCode;
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('answers a chunk compared before with its first report, without its claim, and queues its repairs once', async () => {
    const drifted = (await h.pool.query(`SELECT id, legacy_id FROM drivers ORDER BY id DESC LIMIT 1`)).rows[0];
    await asSync(h.pool, `UPDATE drivers SET phone = '02-0000-0000' WHERE id = $1`, [drifted.id]);
    // The check's two steps by hand, as its workflow runs them.
    const checkId = `consistency-check/test/${h.env.TEMPORAL_TASK_QUEUE}/compared-twice`;
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: checkId, runId: 'first-execution' } });
    const batchKey = `${checkId}#check#drivers#0`;
    await env.run(createLegacyActivities(h.workers!.legacy!).captureCheckChunk, { table: 'drivers', batchKey, afterId: null, chunkSize: 100 });
    const core = createCoreActivities(h.workers!.core!);
    const compare = () => env.run(core.compareChunk, { checkId, table: 'drivers', batchKey, lower: null, upper: null, repair: true });
    const first = (await compare()) as ChunkReport;
    expect(first).toMatchObject({ legacyRows: 25, matching: 24, differing: 1, repairQueued: 1, samples: { differing: [{ legacyId: drifted.legacy_id, newId: drifted.id, fields: ['phone'] }] } });
    const queued = () => h.pool.query(`SELECT row_id, attempts FROM sync_row_queue WHERE table_name = 'drivers' AND queue = 'repair'`);
    expect((await queued()).rows).toEqual([{ row_id: String(drifted.legacy_id), attempts: 1 }]);
    // The step runs again (a worker died after the commit, before it reported): its claim is gone, its report is not.
    expect(await compare()).toEqual({ ...first, replayed: true });
    expect((await queued()).rows).toEqual([{ row_id: String(drifted.legacy_id), attempts: 1 }]);
  });
});
