/**
 * Reconcile, legacy → new (src/reconcile/toNew.ts), as a unit: what a converted batch does
 * to PostgreSQL, decided from hand-made inputs (converted legacy rows, the new rows as
 * `to_jsonb` gives them, what the sync last saw of each row). No service: planToNew is pure,
 * the SQL that carries out a plan is the integration tests' business.
 */
import { parseSyncConfig, type TableConfig } from '../../src/config/tables';
import { deliveries, type NewValues } from '../../src/convert/tables';
import type { ConvertedBatch, ConvertedRow, HeldRow } from '../../src/convert/toNew';
import { ABSENT, imageOf, mergeColumns, planToNew, type RowState, type TargetRow, type ToNewInput } from '../../src/reconcile/toNew';

const T0 = '2024-03-15T01:00:00.000Z'; // 09:00 in Taipei: the agreed version
const T1 = '2024-03-15T02:00:00.000Z';
const T2 = '2024-03-15T03:00:00.000Z';
const T3 = '2024-03-15T04:00:00.000Z';

type TableOverrides = { conflictResolution?: string; mergeRules?: Record<string, string>; deleteConflict?: string; tieBreaker?: string; directions?: string[] };

/** The three tables as configured, deliveries with the given conflict settings. */
function configured(table: 'clients' | 'drivers' | 'deliveries', o: TableOverrides = {}): TableConfig {
  const config = parseSyncConfig({
    tables: [
      { legacyTable: 'clients', newTable: 'customers', directions: ['legacy-to-new'], ...(table === 'clients' ? o : {}) },
      { legacyTable: 'drivers', newTable: 'drivers', directions: ['legacy-to-new'], ...(table === 'drivers' ? o : {}) },
      { legacyTable: 'deliveries', newTable: 'orders', directions: ['legacy-to-new', 'new-to-legacy'], ...(table === 'deliveries' ? o : {}) },
    ],
  });
  return config.tables.find((t) => t.legacyTable === table)!;
}
const DELIVERIES = configured('deliveries');

/** A delivery as convertRow gives it (legacy id 5001, client 101, driver 7). */
function legacyRow(v: Partial<NewValues> = {}, o: { hash?: string; ts?: string; legacyId?: number; parents?: Record<string, number | null> } = {}): ConvertedRow {
  return {
    legacyId: o.legacyId ?? 5001,
    hash: o.hash ?? 'h-legacy',
    ts: o.ts ?? '2024-03-15 11:00:00',
    values: {
      delivery_date: '2024-03-15',
      qty_50kg: 0,
      qty_20kg: 2,
      qty_16kg: 0,
      qty_10kg: 0,
      qty_4kg: 0,
      status: 'pending',
      amount: 1500,
      notes: 'a',
      created_at: T0,
      updated_at: T0,
      ...v,
    },
    parents: o.parents ?? { client_id: 101, driver_id: 7 },
  };
}

/** An order as `to_jsonb(orders)` gives it: id 900, customer 3, driver 12, instants with an offset. */
function orderRow(v: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 900,
    legacy_id: 5001,
    customer_id: 3,
    driver_id: 12,
    delivery_date: '2024-03-15',
    qty_50kg: 0,
    qty_20kg: 2,
    qty_16kg: 0,
    qty_10kg: 0,
    qty_4kg: 0,
    status: 'pending',
    amount: 1500,
    notes: 'a',
    created_at: '2024-03-15T09:00:00+08:00',
    updated_at: '2024-03-15T09:00:00+08:00',
    deleted_at: null,
    ...v,
  };
}

const state = (s: Partial<RowState> = {}): RowState => ({ legacyId: 5001, contentHash: 'h-seen', legacyTs: '2024-03-15 09:00:00', base: null, legacyBase: null, reviewId: null, ...s });

function plan(o: { cfg?: TableConfig; rows?: ConvertedRow[]; held?: HeldRow[]; deleted?: number[]; states?: RowState[]; current?: Array<[number, TargetRow]>; keyOwners?: ToNewInput['keyOwners'] }) {
  const batch: ConvertedBatch = { converted: o.rows ?? [], held: o.held ?? [], deleted: o.deleted ?? [] };
  return planToNew({
    cfg: o.cfg ?? DELIVERIES,
    batch,
    states: new Map((o.states ?? []).map((s) => [s.legacyId, s])),
    current: new Map(o.current ?? []),
    parents: new Map([
      ['customer_id', new Map([[101, 3]])],
      ['driver_id', new Map([[7, 12]])],
    ]),
    keyOwners: o.keyOwners ?? new Map(),
  });
}
const at = (row: Record<string, unknown>): Array<[number, TargetRow]> => [[row.legacy_id as number, { id: row.id as number, row }]];

/** The legacy values as the plan writes them: parents as new ids, deleted_at cleared. */
const written = (v: Partial<NewValues> = {}): NewValues => ({ ...legacyRow(v).values, customer_id: 3, driver_id: 12, deleted_at: null });

/** Nothing of the plan but the listed parts. */
function only(p: ReturnType<typeof plan>, parts: Partial<ReturnType<typeof plan>>) {
  const empty = { inserts: [], updates: [], touches: [], deletes: [], forget: [], held: [], waiting: [], conflicts: [], reviewUpdates: [], writeBack: [], unchanged: [] };
  const { states: _s, read: _r, ...rest } = p;
  expect(rest).toEqual({ ...empty, ...parts });
}

// ─────────────────────────────── images ───────────────────────────────

describe('the merged columns and images', () => {
  it('merges the content columns and the parents, not updated_at', () => {
    expect(mergeColumns(deliveries)).toEqual({
      delivery_date: 'date',
      qty_50kg: 'integer',
      qty_20kg: 'integer',
      qty_16kg: 'integer',
      qty_10kg: 'integer',
      qty_4kg: 'integer',
      status: 'order_status',
      amount: 'integer',
      notes: 'text',
      created_at: 'timestamptz',
      customer_id: 'integer',
      driver_id: 'integer',
    });
  });

  it('an image keeps the mapped columns, parents and deleted_at, drops id and legacy_id, and fills what is missing with NULL', () => {
    expect(imageOf(deliveries, { id: 1, legacy_id: 2, status: 'assigned', customer_id: 3, extra: 'x' })).toEqual({
      delivery_date: null,
      qty_50kg: null,
      qty_20kg: null,
      qty_16kg: null,
      qty_10kg: null,
      qty_4kg: null,
      status: 'assigned',
      amount: null,
      notes: null,
      created_at: null,
      updated_at: null,
      customer_id: 3,
      driver_id: null,
      deleted_at: null,
    });
  });
});

// ─────────────────────────────── insert, update, unchanged ───────────────────────────────

describe('insert, update, touch or nothing', () => {
  it('a row PostgreSQL does not have is inserted with its parents\' new ids, and its state recorded', () => {
    const p = plan({ rows: [legacyRow({}, { hash: 'h1', ts: '2024-03-15 09:00:00' })] });
    only(p, { inserts: [{ legacyId: 5001, values: written() }] });
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h1', ts: '2024-03-15 09:00:00', base: 'now', legacyBase: null }]);
    expect(p.read).toBe(1);
  });

  it('a row whose content hash is the one last seen, same updated_at: nothing is written, no state either', () => {
    const p = plan({ rows: [legacyRow({}, { hash: 'h-seen', ts: '2024-03-15 09:00:00' })], states: [state()], current: at(orderRow()) });
    only(p, { unchanged: [5001] });
    expect(p.states).toEqual([]);
  });

  it('same content, same instant written differently in legacy: nothing written, the new text noted', () => {
    const p = plan({ rows: [legacyRow({}, { hash: 'h-seen', ts: '2024-03-15 09:00:00 ' })], states: [state()], current: at(orderRow()) });
    only(p, { unchanged: [5001] });
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h-seen', ts: '2024-03-15 09:00:00 ', base: 'keep', legacyBase: 'keep' }]);
  });

  it('same content saved again later in legacy: a touch carries updated_at alone', () => {
    const p = plan({ rows: [legacyRow({ updated_at: T1 }, { hash: 'h-seen', ts: '2024-03-15 10:00:00' })], states: [state()], current: at(orderRow()) });
    only(p, { touches: [{ legacyId: 5001, values: { updated_at: T1 } }] });
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h-seen', ts: '2024-03-15 10:00:00', base: 'keep', legacyBase: 'keep' }]);
  });

  it('no touch while the new side has a change of its own waiting for the write-back', () => {
    const p = plan({
      rows: [legacyRow({ updated_at: T1 }, { hash: 'h-seen', ts: '2024-03-15 10:00:00' })],
      states: [state({ base: orderRow({ notes: 'before' }) })],
      current: at(orderRow({ notes: 'changed in the new system', updated_at: T2 })),
    });
    only(p, { unchanged: [5001] });
  });

  it('a row legacy changed and the new system did not: updated with every column, no conflict, nothing written back', () => {
    const p = plan({ rows: [legacyRow({ status: 'delivered', updated_at: T1 }, { hash: 'h2', ts: '2024-03-15 10:00:00' })], states: [state()], current: at(orderRow()) });
    expect(p.updates).toHaveLength(1);
    expect(p.updates[0].legacyId).toBe(5001);
    // Every merged column, updated_at from legacy, deleted_at cleared.
    expect(p.updates[0].values).toMatchObject({ status: 'delivered', qty_20kg: 2, amount: 1500, notes: 'a', customer_id: 3, driver_id: 12, updated_at: T1, deleted_at: null });
    expect(Object.keys(p.updates[0].values).sort()).toEqual([...Object.keys(mergeColumns(deliveries)), 'updated_at', 'deleted_at'].sort());
    expect(p.conflicts).toEqual([]);
    expect(p.writeBack).toEqual([]);
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h2', ts: '2024-03-15 10:00:00', base: 'now', legacyBase: null }]);
  });

  it('a row the sync never saw: the new row is taken as agreed, legacy\'s values win without a conflict', () => {
    const p = plan({ rows: [legacyRow({ notes: 'legacy', updated_at: T1 }, { hash: 'h2' })], current: at(orderRow({ notes: 'new', updated_at: T2 })) });
    expect(p.updates.map((u) => u.values.notes)).toEqual(['legacy']);
    expect(p.conflicts).toEqual([]);
    expect(p.writeBack).toEqual([]);
  });

  it('instants and dates are compared as values: to_jsonb\'s +08:00 form equals legacy\'s UTC form', () => {
    // Legacy's content changed (another hash) but only its text form: the merge finds nothing to write.
    const p = plan({ rows: [legacyRow({}, { hash: 'h2' })], states: [state()], current: at(orderRow({ delivery_date: '2024-03-15T00:00:00' })) });
    only(p, { unchanged: [5001] });
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h2', ts: '2024-03-15 11:00:00', base: 'now', legacyBase: null }]);
  });

  it('held-back rows of the batch are carried into the plan, and every row read is counted', () => {
    const heldRow: HeldRow = { legacyId: 5002, hash: 'h', reasonKind: 'decode', reason: 'notes: invalid CP950 byte 0x80 at offset 2', raw: { id: 5002, notes: 'a4fd80' } };
    const p = plan({ rows: [legacyRow()], held: [heldRow], deleted: [5003] });
    expect(p.held).toEqual([heldRow]);
    expect(p.read).toBe(3);
  });
});

// ─────────────────────────────── parents ───────────────────────────────

describe('rows waiting for a parent', () => {
  it('a delivery whose client has no customer yet waits, with the reason; the others of the batch go on', () => {
    const p = plan({ rows: [legacyRow({}, { legacyId: 5001, parents: { client_id: 999, driver_id: 7 } }), legacyRow({}, { legacyId: 5002 })] });
    expect(p.waiting).toEqual([{ legacyId: 5001, reason: 'client_id 999 has no customers row yet (legacy clients row not synced)' }]);
    expect(p.inserts.map((i) => i.legacyId)).toEqual([5002]);
    expect(p.states.map((s) => s.legacyId)).toEqual([5002]);
  });

  it('a missing driver makes it wait too; a NULL driver does not', () => {
    const p = plan({ rows: [legacyRow({}, { legacyId: 5001, parents: { client_id: 101, driver_id: 8 } }), legacyRow({}, { legacyId: 5002, parents: { client_id: 101, driver_id: null } })] });
    expect(p.waiting).toEqual([{ legacyId: 5001, reason: 'driver_id 8 has no drivers row yet (legacy drivers row not synced)' }]);
    expect(p.inserts).toEqual([{ legacyId: 5002, values: { ...written(), driver_id: null } }]);
  });

  it('a NULL client (required) waits, named', () => {
    const p = plan({ rows: [legacyRow({}, { parents: { client_id: null, driver_id: 7 } })] });
    expect(p.waiting).toEqual([{ legacyId: 5001, reason: 'client_id is NULL' }]);
    expect(p.inserts).toEqual([]);
  });
});

// ─────────────────────────────── natural keys ───────────────────────────────

describe('natural keys', () => {
  const CLIENTS = configured('clients');
  const client = (legacyId: number, code: string): ConvertedRow => ({
    legacyId,
    hash: 'h',
    ts: '2024-01-01 00:00:00',
    values: {
      customer_code: code,
      name: '幸運瓦斯行',
      short_name: null,
      address: null,
      phone: null,
      contact_person: null,
      notes: null,
      district: null,
      is_active: true,
      created_at: T0,
      updated_at: T0,
    },
    parents: {},
  });

  it('a customer_code that belongs to another customer holds the row back (key_collision), naming the owner', () => {
    const p = plan({ cfg: CLIENTS, rows: [client(101, 'C000123'), client(102, 'C000124')], keyOwners: new Map([['C000123', { id: 40, legacyId: 77 }]]) });
    expect(p.held).toEqual([
      {
        legacyId: 101,
        hash: 'h',
        reasonKind: 'key_collision',
        reason: 'customer_code C000123 already belongs to customers id 40 (legacy_id 77)',
        raw: expect.objectContaining({ id: 101, customer_code: 'C000123' }) as unknown,
      },
    ]);
    expect(p.inserts.map((i) => i.legacyId)).toEqual([102]);
  });

  it('a key its own row holds is no collision; a key held by a row created in the new system is', () => {
    expect(plan({ cfg: CLIENTS, rows: [client(101, 'C000123')], keyOwners: new Map([['C000123', { id: 40, legacyId: 101 }]]) }).held).toEqual([]);
    const p = plan({ cfg: CLIENTS, rows: [client(101, 'C000123')], keyOwners: new Map([['C000123', { id: 41, legacyId: null }]]) });
    expect(p.held.map((h) => h.reason)).toEqual(['customer_code C000123 already belongs to customers id 41 (legacy_id none)']);
  });
});

// ─────────────────────────────── conflicts ───────────────────────────────

describe('both sides changed the row', () => {
  const seen = state({ base: orderRow({ updated_at: T0 }) });

  it('different columns: both changes kept, no conflict; legacy lacks the new side\'s change, so the order is written back', () => {
    const p = plan({
      rows: [legacyRow({ status: 'delivered', updated_at: T2 }, { hash: 'h2' })],
      states: [seen],
      current: at(orderRow({ notes: '請放門口', updated_at: T1 })),
    });
    expect(p.conflicts).toEqual([]);
    expect(p.updates.map((u) => [u.values.status, u.values.notes, u.values.updated_at])).toEqual([['delivered', '請放門口', T2]]);
    expect(p.writeBack).toEqual([900]);
    // Legacy keeps its last-seen image as its base until it receives the result.
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h2', ts: '2024-03-15 11:00:00', base: 'now', legacyBase: written({ status: 'delivered', updated_at: T2 }) }]);
  });

  it('the same column, newest_wins, legacy newer: legacy\'s value, a conflict recorded with base, legacy, new and result; nothing written back', () => {
    const p = plan({ rows: [legacyRow({ notes: 'legacy', updated_at: T2 }, { hash: 'h2' })], states: [seen], current: at(orderRow({ notes: 'new', updated_at: T1 })) });
    expect(p.updates.map((u) => u.values.notes)).toEqual(['legacy']);
    expect(p.conflicts).toHaveLength(1);
    expect(p.conflicts[0]).toMatchObject({ legacyId: 5001, newId: 900, kind: 'update', rule: 'newest_wins', outcome: 'legacy' });
    expect(p.conflicts[0].columns).toEqual([{ column: 'notes', base: 'a', legacy: 'legacy', new: 'new', result: 'legacy', rule: 'newest_wins' }]);
    expect(p.conflicts[0].resolved).toMatchObject({ notes: 'legacy', updated_at: T2, deleted_at: null });
    expect(p.writeBack).toEqual([]);
  });

  it('the same column, newest_wins, new newer: PostgreSQL keeps its row, legacy receives it', () => {
    const p = plan({ rows: [legacyRow({ notes: 'legacy', updated_at: T2 }, { hash: 'h2' })], states: [seen], current: at(orderRow({ notes: 'new', updated_at: T3 })) });
    expect(p.updates).toEqual([]);
    expect(p.unchanged).toEqual([5001]);
    expect(p.conflicts.map((c) => [c.outcome, c.columns.map((x) => x.result)])).toEqual([['new', ['new']]]);
    expect(p.writeBack).toEqual([900]);
    expect(p.states[0].legacyBase).toEqual(written({ notes: 'legacy', updated_at: T2 }));
  });

  it('the same updated_at second: the tie breaker decides', () => {
    const rows = [legacyRow({ notes: 'legacy', updated_at: T2 }, { hash: 'h2' })];
    const current = at(orderRow({ notes: 'new', updated_at: T2 }));
    expect(plan({ rows, states: [seen], current }).conflicts[0].columns[0].result).toBe('legacy');
    expect(plan({ cfg: configured('deliveries', { tieBreaker: 'new' }), rows, states: [seen], current }).conflicts[0].columns[0].result).toBe('new');
  });

  it('both changed a column to the same value: no conflict', () => {
    const p = plan({ rows: [legacyRow({ notes: 'same', updated_at: T2 }, { hash: 'h2' })], states: [seen], current: at(orderRow({ notes: 'same', updated_at: T1 })) });
    expect(p.conflicts).toEqual([]);
    expect(p.writeBack).toEqual([]);
  });

  it('legacy_wins / new_wins ignore which side is newer', () => {
    const rows = [legacyRow({ notes: 'legacy', updated_at: T1 }, { hash: 'h2' })];
    const current = at(orderRow({ notes: 'new', updated_at: T2 }));
    const legacyWins = plan({ cfg: configured('deliveries', { conflictResolution: 'legacy_wins' }), rows, states: [seen], current });
    expect(legacyWins.updates.map((u) => u.values.notes)).toEqual(['legacy']);
    expect(legacyWins.conflicts.map((c) => [c.rule, c.outcome])).toEqual([['legacy_wins', 'legacy']]);
    const newWins = plan({ cfg: configured('deliveries', { conflictResolution: 'new_wins' }), rows: [legacyRow({ notes: 'legacy', updated_at: T3 }, { hash: 'h2' })], states: [seen], current });
    expect(newWins.updates).toEqual([]);
    expect(newWins.conflicts.map((c) => [c.rule, c.outcome])).toEqual([['new_wins', 'new']]);
    expect(newWins.writeBack).toEqual([900]);
  });

  it('merge_fields with per-column rules: combine, prefer_new, prefer_legacy, delta; the others by the newer side', () => {
    const cfg = configured('deliveries', { conflictResolution: 'merge_fields', mergeRules: { notes: 'combine', amount: 'prefer_new', status: 'prefer_legacy', qty_20kg: 'delta' } });
    const p = plan({
      cfg,
      rows: [legacyRow({ notes: '後門', amount: 1600, status: 'delivered', qty_20kg: 3, qty_4kg: 1, updated_at: T1 }, { hash: 'h2' })],
      states: [seen],
      current: at(orderRow({ notes: '請放門口', amount: 1700, status: 'cancelled', qty_20kg: 1, qty_4kg: 2, updated_at: T2 })),
    });
    expect(p.conflicts).toHaveLength(1);
    expect(p.conflicts[0]).toMatchObject({ rule: 'merge_fields', outcome: 'merged' });
    expect(p.conflicts[0].columns.map((c) => [c.column, c.rule, c.result])).toEqual([
      ['qty_20kg', 'delta', 2], // new 1 + (legacy 3 − base 2)
      ['qty_4kg', 'merge_fields', 2], // no column rule: the newer side (new, T2)
      ['status', 'prefer_legacy', 'delivered'],
      ['amount', 'prefer_new', 1700],
      ['notes', 'combine', '請放門口\n---\n後門'],
    ]);
    expect(p.updates[0].values).toMatchObject({ qty_20kg: 2, qty_4kg: 2, status: 'delivered', amount: 1700, notes: '請放門口\n---\n後門', updated_at: T2 });
    expect(p.writeBack).toEqual([900]);
  });

  it('a column whose rule is manual: nothing written on either side, the row goes to review', () => {
    const cfg = configured('deliveries', { mergeRules: { notes: 'manual' } });
    const p = plan({ cfg, rows: [legacyRow({ notes: 'legacy', status: 'delivered', updated_at: T2 }, { hash: 'h2' })], states: [seen], current: at(orderRow({ notes: 'new', updated_at: T1 })) });
    only(p, {
      conflicts: [
        expect.objectContaining({
          kind: 'update',
          outcome: 'manual',
          resolved: null,
          columns: [{ column: 'notes', base: 'a', legacy: 'legacy', new: 'new', result: null, rule: 'manual' }],
        }) as never,
      ],
    });
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h2', ts: '2024-03-15 11:00:00', base: 'keep', legacyBase: 'keep', review: true }]);
  });

  it('a row under review that legacy changes again: the review shows legacy\'s new version, neither side is written', () => {
    const p = plan({ rows: [legacyRow({ notes: 'again', updated_at: T3 }, { hash: 'h3' })], states: [state({ reviewId: 31, base: orderRow() })], current: at(orderRow({ notes: 'new', updated_at: T1 })) });
    only(p, { reviewUpdates: [{ reviewId: 31, legacy: written({ notes: 'again', updated_at: T3 }) }], unchanged: [5001] });
    expect(p.states).toEqual([{ legacyId: 5001, hash: 'h3', ts: '2024-03-15 11:00:00', base: 'keep', legacyBase: 'keep' }]);
  });

  it('legacy changes seen against legacy\'s own last-seen image while it has not received a merge', () => {
    // The new side's notes are not yet in legacy: legacy's unchanged notes ('a') are no change of legacy's.
    const p = plan({
      rows: [legacyRow({ status: 'delivered', updated_at: T2 }, { hash: 'h2' })],
      states: [state({ base: orderRow({ notes: 'merged' }), legacyBase: orderRow() })],
      current: at(orderRow({ notes: 'merged', updated_at: T1 })),
    });
    expect(p.conflicts).toEqual([]);
    expect(p.updates.map((u) => [u.values.status, u.values.notes])).toEqual([['delivered', 'merged']]);
    expect(p.writeBack).toEqual([900]);
  });

  it('customers are never written back, whichever side wins', () => {
    const cfg = configured('clients');
    const values: NewValues = { customer_code: 'C000123', name: '舊名', short_name: null, address: null, phone: null, contact_person: null, notes: null, district: null, is_active: true, created_at: T0, updated_at: T0 };
    const now = { id: 40, legacy_id: 101, ...values, name: '新名', updated_at: T3, deleted_at: null };
    const p = plan({
      cfg,
      rows: [{ legacyId: 101, hash: 'h2', ts: 't', values: { ...values, name: '改名', updated_at: T1 }, parents: {} }],
      states: [{ legacyId: 101, contentHash: 'h1', legacyTs: 't0', base: { ...values }, legacyBase: null, reviewId: null }],
      current: [[101, { id: 40, row: now }]],
    });
    expect(p.conflicts.map((c) => [c.outcome, c.columns.map((x) => x.result)])).toEqual([['new', ['新名']]]);
    expect(p.writeBack).toEqual([]);
  });
});

// ─────────────────────────────── deletions ───────────────────────────────

describe('deletions', () => {
  it('a legacy row gone, the new row unchanged since: deleted_at, its state forgotten, no conflict', () => {
    const p = plan({ deleted: [5001], states: [state()], current: at(orderRow()) });
    only(p, { deletes: [5001], forget: [5001] });
    expect(p.read).toBe(1);
  });

  it('a legacy row gone that PostgreSQL does not have, or has deleted already: only forgotten', () => {
    only(plan({ deleted: [5001], states: [state()] }), { forget: [5001] });
    only(plan({ deleted: [5001], states: [state()], current: at(orderRow({ deleted_at: T1 })) }), { forget: [5001] });
  });

  it('a row under review deleted in legacy: the review shows the deletion', () => {
    only(plan({ deleted: [5001], states: [state({ reviewId: 31 })], current: at(orderRow()) }), { reviewUpdates: [{ reviewId: 31, legacy: null }] });
  });

  describe('legacy deleted a delivery the new system changed', () => {
    const input = (deleteConflict: string) => ({
      cfg: configured('deliveries', { deleteConflict }),
      deleted: [5001],
      states: [state({ base: orderRow() })],
      current: at(orderRow({ notes: 'changed in the new system', updated_at: T1 })),
    });

    it('delete_wins (the default): the deletion stands, recorded as a conflict', () => {
      const p = plan(input('delete_wins'));
      only(p, { deletes: [5001], forget: [5001], conflicts: [expect.objectContaining({ kind: 'delete', rule: 'delete_wins', outcome: 'deleted', legacy: null, resolved: null, newId: 900 }) as never] });
    });

    it('update_wins: the order stays and is written back to re-create the delivery with its id', () => {
      const p = plan(input('update_wins'));
      only(p, { writeBack: [900], conflicts: [expect.objectContaining({ kind: 'delete', rule: 'update_wins', outcome: 'kept', legacy: null }) as never] });
      expect(p.conflicts[0].resolved).toMatchObject({ notes: 'changed in the new system' });
      expect(p.states).toEqual([{ legacyId: 5001, hash: ABSENT, ts: null, base: 'keep', legacyBase: 'keep' }]);
    });

    it('manual: nothing deleted, a review opened', () => {
      const p = plan(input('manual'));
      only(p, { conflicts: [expect.objectContaining({ kind: 'delete', outcome: 'manual' }) as never] });
      expect(p.states).toEqual([{ legacyId: 5001, hash: ABSENT, ts: null, base: 'keep', legacyBase: 'keep', review: true }]);
    });

    it('customers (not written back): a deletion in legacy always stands', () => {
      const cfg = configured('clients', { deleteConflict: 'update_wins' });
      const p = plan({ cfg, deleted: [101], states: [{ legacyId: 101, contentHash: 'h', legacyTs: 't', base: { name: 'old' }, legacyBase: null, reviewId: null }], current: [[101, { id: 40, row: { id: 40, legacy_id: 101, name: 'new', deleted_at: null } }]] });
      only(p, { deletes: [101], forget: [101] });
    });
  });

  describe('the new system deleted an order legacy changed', () => {
    const input = (deleteConflict: string) => ({
      cfg: configured('deliveries', { deleteConflict }),
      rows: [legacyRow({ status: 'delivered', updated_at: T2 }, { hash: 'h2' })],
      states: [state({ base: orderRow() })],
      current: at(orderRow({ deleted_at: T1, updated_at: T1 })),
    });

    it('delete_wins: the order stays deleted; legacy\'s version is kept as its last-seen image', () => {
      const p = plan(input('delete_wins'));
      only(p, { conflicts: [expect.objectContaining({ kind: 'delete', outcome: 'deleted', resolved: null }) as never] });
      expect(p.states).toEqual([{ legacyId: 5001, hash: 'h2', ts: '2024-03-15 11:00:00', base: 'keep', legacyBase: written({ status: 'delivered', updated_at: T2 }) }]);
    });

    it('update_wins: the order comes back with legacy\'s change (deleted_at cleared)', () => {
      const p = plan(input('update_wins'));
      expect(p.updates).toEqual([{ legacyId: 5001, values: expect.objectContaining({ status: 'delivered', deleted_at: null }) as NewValues }]);
      expect(p.conflicts).toEqual([expect.objectContaining({ kind: 'delete', rule: 'update_wins', outcome: 'kept' })]);
      expect(p.writeBack).toEqual([]);
    });

    it('manual: a review, nothing written', () => {
      const p = plan(input('manual'));
      only(p, { conflicts: [expect.objectContaining({ kind: 'delete', outcome: 'manual' }) as never] });
      expect(p.states[0]).toMatchObject({ review: true, base: 'keep', legacyBase: 'keep' });
    });
  });
});
