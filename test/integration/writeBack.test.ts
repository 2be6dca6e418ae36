import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { loadEudcMap } from '../../src/encoding/eudc';
import { encodeCp950 } from '../../src/encoding/cp950';
import { createCoreActivities, createLegacyActivities } from '../../activities';
import type { BatchResult } from '../../src/shared';
import { configWith, count, legacyCount, startHarness, type SyncHarness } from '../support/syncHarness';

const eudc = loadEudcMap();
const cp950 = (s: string) => {
  const e = encodeCp950(s, eudc);
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
};

describe('new → legacy write-back for deliveries', () => {
  let h: SyncHarness;
  let customerId: number;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 11, clients: 50, drivers: 5, deliveries: 300 });
    await h.runCycle();
    customerId = (await h.pool.query(`SELECT id FROM customers ORDER BY id LIMIT 1`)).rows[0].id;
  });
  afterAll(async () => h?.close());

  const legacyDeliveries = () => legacyCount(h.legacyPath, 'deliveries');
  const legacyRow = (id: number) => {
    const db = new Database(h.legacyPath, { readonly: true });
    try {
      return db.prepare('SELECT client_id, CAST(status AS BLOB) AS status, CAST(notes AS BLOB) AS notes, typeof(notes) AS notes_type, cylinder_20kg, updated_at FROM deliveries WHERE id = ?').get(id) as Record<string, unknown>;
    } finally {
      db.close();
    }
  };
  const newOrder = async (notes: string) =>
    (
      await h.pool.query(
        `INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes, updated_at)
         VALUES ($1, '2031-05-06', 2, 'pending', 1500, $2, '2031-05-06T01:02:03Z') RETURNING id`,
        [customerId, notes],
      )
    ).rows[0].id as number;

  it('writes an order created in PostgreSQL to legacy with the right bytes, and gives it its legacy_id', async () => {
    const before = legacyDeliveries();
    const id = await newOrder('請堃先生收 上午十點前');
    await h.runCycle(['deliveries']);
    const order = (await h.pool.query('SELECT legacy_id, customer_id FROM orders WHERE id = $1', [id])).rows[0];
    expect(order.legacy_id).not.toBeNull();
    expect(legacyDeliveries()).toBe(before + 1);
    const row = legacyRow(order.legacy_id);
    const clientLegacy = (await h.pool.query('SELECT legacy_id FROM customers WHERE id = $1', [customerId])).rows[0].legacy_id;
    expect(row.client_id).toBe(clientLegacy);
    expect((row.status as Buffer).toString('hex')).toBe(cp950('待配送').toString('hex'));
    // 堃 goes back to its EUDC code FA40; text is stored as TEXT, as the legacy application does.
    expect((row.notes as Buffer).toString('hex')).toBe(cp950('請堃先生收 上午十點前').toString('hex'));
    expect((row.notes as Buffer).includes(Buffer.from([0xfa, 0x40]))).toBe(true);
    expect(row.notes_type).toBe('text');
    expect(row.updated_at).toBe('2031-05-06 09:02:03');
    const journal = await count(h.pool, `SELECT count(*) FROM sync_journal WHERE side = 'legacy' AND row_id = $1 AND operation = 'insert'`, [order.legacy_id]);
    expect(journal).toBe(1);
  });

  it('holds back an order with a character outside CP950 and the EUDC map, and leaves legacy untouched', async () => {
    const before = legacyDeliveries();
    const id = await newOrder('客戶說 😀 很好');
    await h.runCycle(['deliveries']);
    expect(legacyDeliveries()).toBe(before);
    const held = await h.pool.query(`SELECT reason_kind, reason FROM sync_held_back WHERE direction = 'new-to-legacy' AND row_id = $1`, [id]);
    expect(held.rows).toEqual([{ reason_kind: 'encode', reason: expect.stringMatching(/notes: character '😀' \(U\+1F600\)/) }]);
    expect((await h.pool.query('SELECT legacy_id FROM orders WHERE id = $1', [id])).rows[0].legacy_id).toBeNull();
  });

  it('does not ping-pong: cycles with no change leave the journal and legacy as they are', async () => {
    await h.runCycle();
    const journal = await count(h.pool, 'SELECT count(*) FROM sync_journal');
    const legacy = legacyDeliveries();
    await h.runCycle();
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal')).toBe(journal);
    expect(legacyDeliveries()).toBe(legacy);
    expect(await count(h.pool, 'SELECT count(*) FROM sync_order_outbox WHERE processed_at IS NULL')).toBe(0);
  });

  /** Edits delivery `legacyId` on both sides: legacy notes/time and the order's notes/time. */
  async function editBoth(legacyId: number, legacyNotes: string, legacyAt: string, newNotes: string, newAt: string) {
    const db = new Database(h.legacyPath);
    db.prepare('UPDATE deliveries SET notes = CAST(? AS TEXT), updated_at = ? WHERE id = ?').run(cp950(legacyNotes), legacyAt, legacyId);
    db.close();
    await h.pool.query('UPDATE orders SET notes = $1, updated_at = $2 WHERE legacy_id = $3', [newNotes, newAt, legacyId]);
  }

  // Each side winning once through both databases; every rule's choice: test/unit/reconcileToNew.test.ts.
  const cases = [
    { rule: 'newest_wins', legacyAt: '2032-01-01 10:00:00', newAt: '2032-01-01T01:00:00Z', expected: 'legacy-side' }, // 10:00 Taipei = 02:00Z, newer
    { rule: 'newest_wins', legacyAt: '2032-01-01 08:00:00', newAt: '2032-01-01T01:00:00Z', expected: 'new-side' }, // 00:00Z, older
    { rule: 'merge_fields', legacyAt: '2032-01-01 10:00:00', newAt: '2032-01-01T01:00:00Z', expected: 'new-side\n---\nlegacy-side' },
  ];
  it.each(cases)('resolves a delivery edited on both sides by $rule ($expected)', async ({ rule, legacyAt, newAt, expected }) => {
    h.setConfig(configWith((tables) => {
      const d = tables.find((t) => t.legacyTable === 'deliveries')!;
      d.conflictResolution = rule;
      if (rule === 'merge_fields') d.mergeRules = { notes: 'combine' };
    }));
    // A delivery no earlier case has used, so each case records exactly its own conflict.
    const legacyId = (
      await h.pool.query(`SELECT legacy_id FROM orders WHERE legacy_id IS NOT NULL AND legacy_id NOT IN (SELECT legacy_id FROM sync_conflicts WHERE legacy_id IS NOT NULL) ORDER BY random() LIMIT 1`)
    ).rows[0].legacy_id;
    await editBoth(legacyId, 'legacy-side', legacyAt, 'new-side', newAt);
    await h.runCycle(['deliveries']);
    await h.runCycle(['deliveries']);
    const order = (await h.pool.query('SELECT notes FROM orders WHERE legacy_id = $1', [legacyId])).rows[0];
    expect(order.notes).toBe(expected);
    expect((legacyRow(legacyId).notes as Buffer).toString('hex')).toBe(cp950(expected).toString('hex'));
    const conflicts = await h.pool.query(`SELECT rule, outcome, legacy_version, new_version FROM sync_conflicts WHERE legacy_id = $1`, [legacyId]);
    expect(conflicts.rows).toHaveLength(1);
    expect(conflicts.rows[0].rule).toBe(rule);
    expect(conflicts.rows[0].legacy_version.notes).toBe('legacy-side');
    expect(conflicts.rows[0].new_version.notes).toBe('new-side');
  });

  it('waits out a legacy file locked by another process, then writes', async () => {
    h.setConfig(configWith(() => {}));
    const before = legacyDeliveries();
    // Another process holds the write lock longer than the busy timeout: the activity fails
    // with SQLITE_BUSY, Temporal retries it, and it succeeds once the lock is gone.
    const locker = spawn(process.execPath, [
      '-e',
      `const D=require('better-sqlite3');const d=new D(${JSON.stringify(h.legacyPath)});d.exec('BEGIN EXCLUSIVE');process.stdout.write('locked\\n');setTimeout(()=>{d.exec('COMMIT');d.close();},7000);`,
    ], { cwd: process.cwd() });
    await new Promise<void>((resolve) => locker.stdout.once('data', () => resolve()));
    await newOrder('鎖住時建立');
    const started = Date.now();
    await h.runCycle(['deliveries']);
    expect(Date.now() - started).toBeGreaterThan(5000);
    expect(legacyDeliveries()).toBe(before + 1);
  });

  it('never writes a second legacy row when the worker dies between the legacy write and the PostgreSQL commit', async () => {
    const before = legacyDeliveries();
    const id = await newOrder('中途當機');
    const core = createCoreActivities(h.workers!.core!);
    const legacy = createLegacyActivities(h.workers!.legacy!);
    const env = new MockActivityEnvironment();
    const batchKey = `crash-test#0`;
    await env.run(core.planWriteBack, { batchKey, batchSize: 100 });
    // The first attempt wrote legacy, then died before PostgreSQL committed.
    await env.run(legacy.writeLegacy, { batchKey });
    expect(legacyDeliveries()).toBe(before + 1);
    const first = await h.workers!.core!.claims.get<{ orderId: number; legacyId: number }[]>(`${batchKey}:written`);
    // Its retry writes nothing new: the legacy file's own log answers.
    await env.run(legacy.writeLegacy, { batchKey });
    expect(legacyDeliveries()).toBe(before + 1);
    // The retry completes the batch from the log, without a second insert.
    await h.pool.query(`INSERT INTO sync_runs (id, kind, workflow_id, status) VALUES ('crash-test', 'table', 'crash-test', 'running')`);
    const result = (await env.run(core.recordWriteBack, { batchKey, runId: 'crash-test', legacyWritten: true })) as BatchResult;
    expect(result.written).toBe(1);
    expect(legacyDeliveries()).toBe(before + 1);
    expect((await h.pool.query('SELECT legacy_id FROM orders WHERE id = $1', [id])).rows[0].legacy_id).toBe(first[0].legacyId);
    // And a replay of the record changes nothing (its claims are gone; the batch key answers first).
    await env.run(core.planWriteBack, { batchKey, batchSize: 100 });
    const again = (await env.run(core.recordWriteBack, { batchKey, runId: 'crash-test', legacyWritten: false })) as BatchResult;
    expect(again.replayed).toBe(true);
    expect(legacyDeliveries()).toBe(before + 1);
  });

  /** A write-back batch planned and written to legacy by hand, under a run of its own, as a worker runs it; PostgreSQL's record is the caller's. */
  const plannedAndWritten = async (runId: string, batchSize: number) => {
    await h.pool.query(`INSERT INTO sync_runs (id, kind, workflow_id, status) VALUES ($1, 'table', $1, 'running')`, [runId]);
    const core = createCoreActivities(h.workers!.core!);
    const env = new MockActivityEnvironment();
    const batchKey = `${runId}#0`;
    await env.run(core.planWriteBack, { batchKey, batchSize });
    await env.run(createLegacyActivities(h.workers!.legacy!).writeLegacy, { batchKey });
    return { core, env, batchKey };
  };

  it('answers a write-back batch recorded before with its first result, without its claims, and never plans other orders under its key', async () => {
    const first = await newOrder('先記錄的');
    const next = await newOrder('下一批的');
    const { core, env, batchKey } = await plannedAndWritten('recorded-twice', 1);
    const recorded = (await env.run(core.recordWriteBack, { batchKey, runId: 'recorded-twice', legacyWritten: true })) as BatchResult;
    expect(recorded).toMatchObject({ written: 1, replayed: false });
    const legacyRows = legacyDeliveries();
    // The step runs again (a worker died after the commit, before its workflow task completed): its claims are gone.
    const again = (await env.run(core.recordWriteBack, { batchKey, runId: 'recorded-twice', legacyWritten: true })) as BatchResult;
    expect(again).toMatchObject({ written: 1, replayed: true });
    expect(legacyDeliveries()).toBe(legacyRows);
    const legacyIds = await h.pool.query(`SELECT id, legacy_id FROM orders WHERE id = ANY($1::int[]) ORDER BY id`, [[first, next]]);
    expect(legacyIds.rows[0].legacy_id).not.toBeNull();
    expect(legacyIds.rows[1].legacy_id).toBeNull();
    // The next order goes to legacy once, in a batch of its own.
    await h.runCycle(['deliveries']);
    expect(legacyDeliveries()).toBe(legacyRows + 1);
    expect((await h.pool.query(`SELECT legacy_id FROM orders WHERE id = $1`, [next])).rows[0].legacy_id).not.toBeNull();
  });

  it('keeps an edit the new system makes while its order is written back: the order as written is the base, and the edit goes to legacy next', async () => {
    const still = await newOrder('原本的備註');
    const edited = await newOrder('第一版備註');
    const { core, env, batchKey } = await plannedAndWritten('edit-while-written', 100);
    // The new system edits one of them after the plan converted it and before PostgreSQL records the batch.
    await h.pool.query(`UPDATE orders SET notes = '第二版備註', updated_at = '2031-05-06T02:00:00Z' WHERE id = $1`, [edited]);
    await env.run(core.recordWriteBack, { batchKey, runId: 'edit-while-written', legacyWritten: true });
    const stateOf = async (orderId: number) =>
      (
        await h.pool.query(
          `SELECT s.base FROM sync_row_state s JOIN orders o ON o.legacy_id = s.legacy_id WHERE s.table_name = 'deliveries' AND o.id = $1`,
          [orderId],
        )
      ).rows[0] as { base: Record<string, unknown> | null };
    // Unchanged since it was written: the row as it is is the base. Changed: the base is kept, as written.
    expect((await stateOf(still)).base).toBeNull();
    expect((await stateOf(edited)).base?.notes).toBe('第一版備註');
    await h.runCycle(['deliveries']);
    const legacyId = (await h.pool.query('SELECT legacy_id, notes FROM orders WHERE id = $1', [edited])).rows[0];
    expect(legacyId.notes).toBe('第二版備註');
    expect((legacyRow(legacyId.legacy_id).notes as Buffer).toString('hex')).toBe(cp950('第二版備註').toString('hex'));
  });
});
