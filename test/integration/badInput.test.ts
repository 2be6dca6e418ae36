import Database from 'better-sqlite3';
import { WorkflowFailedError } from '@temporalio/client';
import { generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';
import type { ConsistencyResult } from '../../src/shared';
import { startHarness, type SyncHarness } from '../support/syncHarness';
import { ConsistencyCheckWorkflow } from '../../workflows';

/**
 * Bad input from the legacy file, in one batch with good rows: each bad row is held back with
 * a reason naming what is wrong (and its raw bytes), the good rows land, nothing is lost. A
 * file that does not have the contract's schema fails the run at once, with a readable reason.
 */

const cp950 = (s: string) => legacyText(s, 'cp950') as Buffer;
const T = '2030-02-01 00:00:00';

/** The legacy application's older screens did not enforce NOT NULL: the same table without it. */
function dropNotNull(db: Database.Database, table: string): void {
  const objects = db.prepare(`SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL`).all(table) as { type: string; name: string; sql: string }[];
  const create = objects.find((o) => o.type === 'table')!.sql.replace(/ NOT NULL/g, '');
  db.pragma('foreign_keys = OFF');
  db.transaction(() => {
    db.exec(`ALTER TABLE ${table} RENAME TO ${table}_old`);
    db.exec(create);
    db.exec(`INSERT INTO ${table} SELECT * FROM ${table}_old`);
    db.exec(`DROP TABLE ${table}_old`);
    for (const o of objects) if (o.type === 'index') db.exec(o.sql);
  })();
}

describe('bad legacy rows among good ones', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 61, clients: 20, drivers: 3, deliveries: 100 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('holds back each bad row with its reason, lands the good ones, loses nothing', async () => {
    const db = new Database(h.legacyPath);
    dropNotNull(db, 'deliveries');
    const insert = db.prepare(
      `INSERT INTO deliveries (client_id, delivery_date, cylinder_20kg, status, amount, notes, created_at, updated_at)
       VALUES (?, ?, 1, CAST(? AS TEXT), ?, CAST(? AS TEXT), ?, ?)`,
    );
    const row = (over: { client?: number; date?: string | null; status?: Buffer | null; amount?: number | string; notes?: Buffer | null; created?: string | null }) =>
      Number(
        insert.run(
          over.client ?? 1,
          over.date === undefined ? '2030-02-01' : over.date,
          over.status === undefined ? cp950('待配送') : over.status,
          over.amount ?? 1000,
          over.notes === undefined ? cp950('正常的備註') : over.notes,
          over.created === undefined ? T : over.created,
          T,
        ).lastInsertRowid,
      );
    const longNotes = '長'.repeat(100_000) + '。';
    const good = [row({}), row({ notes: cp950(longNotes) }), row({ notes: null })];
    const bad: Record<number, [string, RegExp]> = {
      [row({ notes: Buffer.from([0x41, 0x42, 0x80, 0x43]) })]: ['decode', /notes: .*0x80.* at offset 2/],
      [row({ notes: Buffer.from([0xa4, 0xa4, 0xb1]) })]: ['decode', /notes: truncated CP950 sequence 0xB1 at offset 2/],
      [row({ notes: Buffer.from([0xa4, 0xa4, 0xfa, 0x50]) })]: ['decode', /notes: unknown EUDC code FA50 at offset 2/],
      [row({ status: null })]: ['rule', /status is NULL/],
      [row({ date: null })]: ['rule', /delivery_date is NULL/],
      [row({ created: '2030-02-31 25:61:00' })]: ['rule', /impossible created_at '2030-02-31 25:61:00'/],
      [row({ status: cp950('已退貨') })]: ['rule', /unknown status '已退貨'/],
      // SQLite keeps what an INTEGER column cannot take as an integer: text, and a fraction.
      [row({ amount: '一千' })]: ['rule', /amount is not a whole number: "一千"/],
      [row({ amount: 999.5 })]: ['rule', /amount is not a whole number: "999.5"/],
    };
    // Not held back: it waits for its customer, in a queue of its own.
    const orphan = row({ client: 777_777 });
    db.close();

    await h.runCycle();
    const landed = await h.pool.query('SELECT legacy_id, notes FROM orders WHERE legacy_id = ANY($1) ORDER BY legacy_id', [good]);
    expect(landed.rows.map((r) => r.legacy_id)).toEqual(good);
    expect(landed.rows.map((r) => r.notes)).toEqual(['正常的備註', longNotes, null]); // very long text whole, not cut

    const held = await h.pool.query(`SELECT row_id::int AS id, reason_kind, reason, raw FROM sync_held_back WHERE resolved_at IS NULL ORDER BY row_id`);
    expect(held.rows.map((r) => r.id)).toEqual(Object.keys(bad).map(Number));
    for (const r of held.rows) {
      const [kind, reason] = bad[r.id];
      expect({ id: r.id, kind: r.reason_kind, reason: r.reason }).toEqual({ id: r.id, kind, reason: expect.stringMatching(reason) });
      expect(r.raw).toBeTruthy(); // the row as read, bytes in hex, for whoever fixes it at the source
    }
    expect(held.rows[0].raw.notes).toBe('41428043');
    expect(await h.pool.query('SELECT 1 FROM orders WHERE legacy_id = ANY($1)', [[...Object.keys(bad).map(Number), orphan]])).toHaveProperty('rowCount', 0);
    const waiting = await h.pool.query(`SELECT row_id::int AS id, queue, reason FROM sync_row_queue WHERE table_name = 'deliveries'`);
    expect(waiting.rows).toEqual([{ id: orphan, queue: 'parent', reason: expect.stringMatching(/client_id 777777 has no customers row yet/) }]);

    // Every legacy row is either in PostgreSQL as the rules make it, or held back.
    const report: ConsistencyResult = await h.client.workflow.execute(ConsistencyCheckWorkflow, {
      taskQueue: h.env.TEMPORAL_TASK_QUEUE,
      workflowId: `consistency-check/bad-input/${h.env.TEMPORAL_TASK_QUEUE}`,
      args: [{ tables: ['deliveries'] }],
    });
    const deliveries = report.tables[0];
    expect({ differences: report.differences, heldBack: deliveries.heldBack, waiting: deliveries.waiting, legacyRows: deliveries.legacyRows }).toEqual({
      differences: 0,
      heldBack: Object.keys(bad).length,
      waiting: 1,
      legacyRows: 100 + good.length + Object.keys(bad).length + 1,
    });
  });
});

describe('a legacy file without the contract schema', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 62, clients: 10, drivers: 2, deliveries: 10 });
  });
  afterAll(async () => h?.close());

  const failure = async (run: Promise<unknown>): Promise<string> => {
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // The whole chain, as the Web UI shows it from the top.
    const messages: string[] = [];
    for (let e = err as Error | undefined; e; e = (e as Error & { cause?: Error }).cause) messages.push(e.message);
    return messages.join(' ← ');
  };

  it('fails the run at once (no retries) naming the missing column', async () => {
    const db = new Database(h.legacyPath);
    db.exec('ALTER TABLE clients DROP COLUMN district');
    db.close();
    const started = Date.now();
    expect(await failure(h.runCycle(['clients']))).toContain(`legacy table clients in ${h.legacyPath} has no column district`);
    expect(Date.now() - started).toBeLessThan(30_000); // non-retryable: not 20 attempts with back-off
  });

  it('names a missing table', async () => {
    generateLegacyDb({ path: h.legacyPath, seed: 63, clients: 10, drivers: 2, deliveries: 10, overwrite: true });
    const db = new Database(h.legacyPath);
    db.pragma('foreign_keys = OFF');
    db.exec('DROP TABLE drivers');
    db.close();
    expect(await failure(h.runCycle(['clients']))).toContain(`legacy database ${h.legacyPath} has no table`);
  });
});
