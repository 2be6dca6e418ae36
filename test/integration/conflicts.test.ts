import Database from 'better-sqlite3';
import { installTriggers } from '../../src/capture/legacyTriggers';
import { encodeCp950 } from '../../src/encoding/cp950';
import { loadEudcMap } from '../../src/encoding/eudc';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { ids } from '../../src/shared';
import { RollbackWorkflow } from '../../workflows';
import { expectExit, json, runCli } from '../support/cli';
import { configWith, count, startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * Both sides edited between cycles, end to end: nothing one side changed alone is lost, a
 * column both changed follows its rule, deletions against changes follow theirs, manual
 * conflicts wait for an operator (across a worker restart) and a resolution can be rolled
 * back. Expected values are written here from the scenario, not read from the product.
 */

const eudc = loadEudcMap();
const cp950 = (s: string) => {
  const e = encodeCp950(s, eudc);
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
};

/** Legacy's side, as the legacy application sees and writes it. */
function legacyOf(h: SyncHarness) {
  const open = (readonly = false) => new Database(h.legacyPath, { readonly });
  return {
    edit(id: number, set: Record<string, string | number | Buffer | null>, updatedAt: string) {
      const db = open();
      try {
        const cols = Object.keys(set);
        const ph = cols.map((c) => (Buffer.isBuffer(set[c]) ? `${c} = CAST(? AS TEXT)` : `${c} = ?`));
        db.prepare(`UPDATE deliveries SET ${[...ph, 'updated_at = ?'].join(', ')} WHERE id = ?`).run(...cols.map((c) => set[c]), updatedAt, id);
      } finally {
        db.close();
      }
    },
    delete(id: number) {
      const db = open();
      try {
        db.prepare('DELETE FROM deliveries WHERE id = ?').run(id);
      } finally {
        db.close();
      }
    },
    row(id: number) {
      const db = open(true);
      try {
        return db
          .prepare(`SELECT CAST(status AS BLOB) AS status, CAST(notes AS BLOB) AS notes, cylinder_20kg, amount, updated_at FROM deliveries WHERE id = ?`)
          .get(id) as { status: Buffer; notes: Buffer | null; cylinder_20kg: number; amount: number | null; updated_at: string } | undefined;
      } finally {
        db.close();
      }
    },
  };
}

/** Deliveries no earlier case touched, one per call. */
function picker(h: SyncHarness) {
  const used = new Set<number>();
  return async (where = 'true'): Promise<number> => {
    const res = await h.pool.query(`SELECT legacy_id FROM orders WHERE legacy_id IS NOT NULL AND deleted_at IS NULL AND ${where} ORDER BY legacy_id`);
    const id = res.rows.map((r) => r.legacy_id as number).find((x) => !used.has(x))!;
    used.add(id);
    return id;
  };
}

const order = async (h: SyncHarness, legacyId: number) =>
  (await h.pool.query(`SELECT id, status::text, notes, qty_20kg, amount, updated_at, deleted_at FROM orders WHERE legacy_id = $1`, [legacyId])).rows[0];
const asNewSystem = (h: SyncHarness, legacyId: number, set: string, params: unknown[] = []) =>
  h.pool.query(`UPDATE orders SET ${set}, updated_at = now() WHERE legacy_id = $1`, [legacyId, ...params]);

describe('bidirectional sync without lost updates', () => {
  let h: SyncHarness;
  let pick: (where?: string) => Promise<number>;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 17, clients: 30, drivers: 4, deliveries: 200 });
    await h.runCycle();
    pick = picker(h);
  });
  afterAll(async () => h?.close());

  it('keeps legacy\'s status and the new system\'s note when each side changed one column (the lost update)', async () => {
    const id = await pick(`status <> 'delivered'`);
    const legacy = legacyOf(h);
    legacy.edit(id, { status: cp950('已送達') }, '2033-01-01 09:00:00'); // the dispatcher closes the delivery in legacy
    await asNewSystem(h, id, 'notes = $2', ['請放門口']); // a little later the office adds a note
    await h.runCycle();
    const o = await order(h, id);
    expect({ status: o.status, notes: o.notes }).toEqual({ status: 'delivered', notes: '請放門口' });
    const l = legacy.row(id)!;
    expect(l.status.toString('hex')).toBe(cp950('已送達').toString('hex'));
    expect(l.notes!.toString('hex')).toBe(cp950('請放門口').toString('hex'));
    expect(await count(h.pool, 'SELECT count(*) FROM sync_conflicts WHERE legacy_id = $1', [id])).toBe(0);
    // Both sides hold the result: the next cycle changes nothing.
    const journal = await count(h.pool, 'SELECT count(*) FROM sync_journal');
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal')).toBe(journal);
  });

  it.each(['newest_wins', 'legacy_wins', 'new_wins', 'merge_fields'])('merges columns changed on different sides under %s, with no conflict', async (rule) => {
    h.setConfig(configWith((tables) => (tables.find((t) => t.legacyTable === 'deliveries')!.conflictResolution = rule)));
    const id = await pick();
    legacyOf(h).edit(id, { cylinder_20kg: 7 }, '2033-01-02 09:00:00');
    await asNewSystem(h, id, 'amount = $2', [4321]);
    await h.runCycle();
    const o = await order(h, id);
    expect({ qty: o.qty_20kg, amount: o.amount }).toEqual({ qty: 7, amount: 4321 });
    expect(legacyOf(h).row(id)).toMatchObject({ cylinder_20kg: 7, amount: 4321 });
    expect(await count(h.pool, 'SELECT count(*) FROM sync_conflicts WHERE legacy_id = $1', [id])).toBe(0);
  });

  it('applies both sides\' changes to a quantity with delta, and records base, legacy, new and result', async () => {
    h.setConfig(configWith((tables) => (tables.find((t) => t.legacyTable === 'deliveries')!.mergeRules = { qty_20kg: 'delta' })));
    const id = await pick();
    await h.pool.query(`UPDATE orders SET qty_20kg = 2 WHERE legacy_id = $1`, [id]);
    legacyOf(h).edit(id, { cylinder_20kg: 2 }, '2033-01-03 08:00:00');
    await h.runCycle(); // base: 2 on both sides
    legacyOf(h).edit(id, { cylinder_20kg: 3 }, '2033-01-03 09:00:00');
    await asNewSystem(h, id, 'qty_20kg = 1');
    await h.runCycle();
    expect((await order(h, id)).qty_20kg).toBe(2);
    expect(legacyOf(h).row(id)!.cylinder_20kg).toBe(2);
    const c = (await h.pool.query(`SELECT rule, outcome, columns FROM sync_conflicts WHERE legacy_id = $1`, [id])).rows;
    expect(c).toEqual([{ rule: 'newest_wins', outcome: 'merged', columns: [{ column: 'qty_20kg', base: 2, legacy: 3, new: 1, result: 2, rule: 'delta' }] }]);
  });

  it('carries a touch (a new updated_at over the same content) to PostgreSQL alone: journaled, no conflict, no write-back', async () => {
    h.setConfig(configWith(() => {}));
    const id = await pick();
    const before = legacyOf(h).row(id)!;
    const journal = await count(h.pool, `SELECT count(*) FROM sync_journal WHERE legacy_id = $1`, [id]);
    legacyOf(h).edit(id, {}, '2033-01-04 09:30:00');
    await h.runCycle();
    expect(new Date((await order(h, id)).updated_at).toISOString()).toBe('2033-01-04T01:30:00.000Z');
    const entries = await h.pool.query(`SELECT side, operation, before->>'updated_at' AS b, after->>'updated_at' AS a FROM sync_journal WHERE legacy_id = $1 ORDER BY id OFFSET $2`, [id, journal]);
    expect(entries.rows).toEqual([{ side: 'new', operation: 'update', b: expect.any(String), a: '2033-01-04T01:30:00+00:00' }]);
    expect(await count(h.pool, 'SELECT count(*) FROM sync_conflicts WHERE legacy_id = $1', [id])).toBe(0);
    expect(legacyOf(h).row(id)).toEqual({ ...before, updated_at: '2033-01-04 09:30:00' });
  });

  it('keeps legacy\'s own bytes for a value the write-back does not change (CP950\'s other code for 十)', async () => {
    const id = await pick();
    const symbolTen = Buffer.from([0xa2, 0xcc]); // 十 in the symbol area; encoders write A451
    legacyOf(h).edit(id, { notes: Buffer.concat([symbolTen, cp950('點前送')]) }, '2033-01-05 09:00:00');
    await h.runCycle();
    expect((await order(h, id)).notes).toBe('十點前送');
    await asNewSystem(h, id, 'amount = $2', [999]);
    await h.runCycle();
    const l = legacyOf(h).row(id)!;
    expect(l.amount).toBe(999);
    expect(l.notes!.subarray(0, 2).toString('hex')).toBe('a2cc');
  });
});

describe('manual review', () => {
  let h: SyncHarness;
  let pick: (where?: string) => Promise<number>;
  const cli = (args: string[]) =>
    runCli(args, {
      env: {
        LEGACY_DB_PATH: h.legacyPath,
        DATABASE_URL: h.env.DATABASE_URL,
        REDIS_URL: h.env.REDIS_URL,
        TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: h.env.TEMPORAL_TASK_QUEUE,
        TEMPORAL_LEGACY_TASK_QUEUE: h.env.TEMPORAL_LEGACY_TASK_QUEUE,
        LOG_LEVEL: 'warn',
      },
    });
  beforeAll(async () => {
    h = await startHarness({ config: configWith((tables) => (tables.find((t) => t.legacyTable === 'deliveries')!.conflictResolution = 'manual')) });
    generateLegacyDb({ path: h.legacyPath, seed: 23, clients: 20, drivers: 3, deliveries: 80 });
    await h.runCycle();
    pick = picker(h);
  });
  afterAll(async () => h?.close());

  it('waits for an operator across a worker restart, follows later edits, resolves to both sides, and reopens when rolled back', async () => {
    const id = await pick();
    const legacy = legacyOf(h);
    legacy.edit(id, { notes: cp950('舊系統說') }, '2033-02-01 09:00:00');
    await asNewSystem(h, id, 'notes = $2, amount = $3', ['新系統說', 2222]);
    await h.runCycle();
    // Neither side is overwritten: the row waits.
    expect((await order(h, id)).notes).toBe('新系統說');
    expect(legacy.row(id)!.notes!.toString('hex')).toBe(cp950('舊系統說').toString('hex'));
    const listed = json<{ id: number; legacyId: number; status: string; columns: { column: string }[] }[]>(await cli(['conflicts', 'list', '--json']));
    const conflict = listed.find((c) => c.legacyId === id)!;
    expect(conflict).toMatchObject({ status: 'open', columns: [{ column: 'notes' }] });
    const review = h.client.workflow.getHandle(ids.review(conflict.id));
    expect((await review.describe()).status.name).toBe('RUNNING');

    // A later legacy edit updates the review; it does not bypass it. The review outlives a worker restart.
    legacy.edit(id, { notes: cp950('舊系統又說') }, '2033-02-01 10:00:00');
    await h.runCycle();
    await h.restartWorkers();
    expect((await order(h, id)).notes).toBe('新系統說');
    const show = await cli(['conflicts', 'show', String(conflict.id)]);
    expectExit(show, 0);
    expect(show.stdout).toMatch(/notes .*"舊系統又說".*"新系統說"/s);

    // merged without the value of the column both sides changed: refused, and still open.
    const refused = await cli(['conflicts', 'resolve', String(conflict.id), '--take', 'merged']);
    expectExit(refused, 1);
    expect(refused.stderr).toMatch(/--set notes=/);
    // A value legacy cannot hold exactly: refused before either side is written.
    const unencodable = await cli(['conflicts', 'resolve', String(conflict.id), '--take', 'merged', '--set', 'notes=兩邊都對😀']);
    expectExit(unencodable, 1);
    expect(unencodable.stderr).toMatch(/legacy file cannot hold this resolution: notes: character '😀' \(U\+1F600\) at position 4 has no CP950 or EUDC code/);
    expect((await order(h, id)).notes).toBe('新系統說');
    expect((await review.describe()).status.name).toBe('RUNNING');
    const resolved = await cli(['conflicts', 'resolve', String(conflict.id), '--take', 'merged', '--set', 'notes=兩邊都對']);
    expectExit(resolved, 0);
    expect((await review.describe()).status.name).toBe('COMPLETED');
    expect(await order(h, id)).toMatchObject({ notes: '兩邊都對', amount: 2222 }); // the new side's amount, changed on one side only, stays
    expect(legacy.row(id)).toMatchObject({ amount: 2222 });
    expect(legacy.row(id)!.notes!.toString('hex')).toBe(cp950('兩邊都對').toString('hex'));
    const runId = ids.resolution(conflict.id);
    expect(await count(h.pool, `SELECT count(DISTINCT side) FROM sync_journal WHERE run_id = $1`, [runId])).toBe(2);

    // Rolled back: both sides as they were before the resolution, and the review open again.
    await h.client.workflow.execute(RollbackWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `rollback/test/${conflict.id}`, args: [{ runId }] });
    expect((await order(h, id)).notes).toBe('新系統說');
    expect(legacy.row(id)!.notes!.toString('hex')).toBe(cp950('舊系統又說').toString('hex'));
    expect((await h.pool.query(`SELECT status FROM sync_conflicts WHERE id = $1`, [conflict.id])).rows[0].status).toBe('open');
    expect((await h.client.workflow.getHandle(ids.review(conflict.id)).describe()).status.name).toBe('RUNNING');
    const again = await cli(['conflicts', 'resolve', String(conflict.id), '--take', 'legacy']);
    expectExit(again, 0);
    expect((await order(h, id)).notes).toBe('舊系統又說');
  });
});

describe('delete versus update', () => {
  let h: SyncHarness;
  let pick: (where?: string) => Promise<number>;
  const rule = (deleteConflict: string) =>
    h.setConfig(configWith((tables) => tables.forEach((t) => ((t.changeDetection = 'trigger'), t.legacyTable === 'deliveries' && (t.deleteConflict = deleteConflict)))));
  beforeAll(async () => {
    h = await startHarness({ config: configWith((tables) => tables.forEach((t) => (t.changeDetection = 'trigger'))) });
    generateLegacyDb({ path: h.legacyPath, seed: 29, clients: 20, drivers: 3, deliveries: 80 });
    const db = new Database(h.legacyPath);
    installTriggers(db, ['clients', 'drivers', 'deliveries']);
    db.close();
    await h.runCycle();
    pick = picker(h);
  });
  afterAll(async () => h?.close());

  const conflictOf = async (id: number) => (await h.pool.query(`SELECT kind, rule, outcome, status FROM sync_conflicts WHERE legacy_id = $1`, [id])).rows;

  it('legacy deleted, the new system changed the order: delete_wins deletes the order', async () => {
    rule('delete_wins');
    const id = await pick();
    await asNewSystem(h, id, 'notes = $2', ['改了']);
    legacyOf(h).delete(id);
    await h.runCycle();
    expect((await order(h, id)).deleted_at).not.toBeNull();
    expect(await conflictOf(id)).toEqual([{ kind: 'delete', rule: 'delete_wins', outcome: 'deleted', status: 'resolved' }]);
  });

  it('legacy deleted, the new system changed the order: update_wins keeps it and gives legacy its row back', async () => {
    rule('update_wins');
    const id = await pick();
    await asNewSystem(h, id, 'notes = $2', ['還要送']);
    legacyOf(h).delete(id);
    await h.runCycle();
    expect((await order(h, id)).deleted_at).toBeNull();
    expect(legacyOf(h).row(id)!.notes!.toString('hex')).toBe(cp950('還要送').toString('hex'));
    expect(await conflictOf(id)).toEqual([{ kind: 'delete', rule: 'update_wins', outcome: 'kept', status: 'resolved' }]);
  });

  it('legacy deleted, the new system changed the order: manual opens a review and deletes nothing', async () => {
    rule('manual');
    const id = await pick();
    await asNewSystem(h, id, 'notes = $2', ['等人決定']);
    legacyOf(h).delete(id);
    await h.runCycle();
    expect((await order(h, id)).deleted_at).toBeNull();
    expect(await conflictOf(id)).toEqual([{ kind: 'delete', rule: 'manual', outcome: 'manual', status: 'open' }]);
  });

  it('the new system deleted the order, legacy changed it: delete_wins keeps it deleted, update_wins brings it back with legacy\'s change', async () => {
    rule('delete_wins');
    const a = await pick();
    await h.pool.query(`UPDATE orders SET deleted_at = now() WHERE legacy_id = $1`, [a]);
    legacyOf(h).edit(a, { amount: 1111 }, '2033-03-01 09:00:00');
    await h.runCycle();
    expect((await order(h, a)).deleted_at).not.toBeNull();
    expect(await conflictOf(a)).toEqual([{ kind: 'delete', rule: 'delete_wins', outcome: 'deleted', status: 'resolved' }]);

    rule('update_wins');
    const b = await pick();
    await h.pool.query(`UPDATE orders SET deleted_at = now() WHERE legacy_id = $1`, [b]);
    legacyOf(h).edit(b, { amount: 2222 }, '2033-03-01 10:00:00');
    await h.runCycle();
    expect(await order(h, b)).toMatchObject({ deleted_at: null, amount: 2222 });
    expect(await conflictOf(b)).toEqual([{ kind: 'delete', rule: 'update_wins', outcome: 'kept', status: 'resolved' }]);
  });
});
