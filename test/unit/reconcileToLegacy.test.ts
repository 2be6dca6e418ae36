/**
 * Write-back planning, new → legacy (src/reconcile/toLegacy.ts), as a unit: which orders the
 * outbox names are written, with what legacy must still hold for each write (the CAS), which
 * are held back and why, which only update their review. Then the legacy sink carrying out
 * such writes against an in-memory SQLite file (no service): only the columns a write
 * changes are set, a legacy row changed since it was last seen is left alone, a write legacy
 * already holds writes nothing. Expected values are written by hand (CP950 as hex).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import type { CapturedOrder } from '../../src/capture/outboxReader';
import { readByIds } from '../../src/capture/legacyReader';
import { contentHash } from '../../src/capture/rawRow';
import { writeDeliveries } from '../../src/apply/legacySink';
import { deliveries } from '../../src/convert/tables';
import { legacyRefusal, type LegacyValue, type LegacyWrite, type OrderForLegacy } from '../../src/convert/toLegacy';
import { loadEudcMap } from '../../src/encoding/eudc';
import { createLegacySchema } from '../../src/fixtures/legacyFixture';
import { planToLegacy } from '../../src/reconcile/toLegacy';
import { ABSENT, type RowState } from '../../src/reconcile/toNew';

const eudc = loadEudcMap(path.resolve(__dirname, '../../config/eudc-map.json'));
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const asHex = (v: Record<string, LegacyValue>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Buffer.isBuffer(x) ? x.toString('hex').toUpperCase() : x]));

function order(o: Partial<OrderForLegacy> = {}): OrderForLegacy {
  return {
    id: 55,
    legacy_id: 5001,
    customer_id: 3,
    customer_legacy_id: 101,
    driver_id: 12,
    driver_legacy_id: 7,
    delivery_date: '2024-03-15',
    qty_50kg: 0,
    qty_20kg: 2,
    qty_16kg: 0,
    qty_10kg: 0,
    qty_4kg: 0,
    status: 'assigned',
    amount: 1500,
    notes: '請放後門',
    created_at: '2024-03-15T01:00:00.000Z',
    updated_at: '2024-03-15T02:00:00.000Z',
    deleted_at: null,
    ...o,
  };
}
const captured = (o: OrderForLegacy): CapturedOrder => ({ order: o, image: { id: o.id, legacy_id: o.legacy_id, status: o.status, notes: o.notes } });
const state = (s: Partial<RowState> = {}): RowState => ({ legacyId: 5001, contentHash: 'h-seen', legacyTs: '2024-03-15 09:00:00', base: null, legacyBase: null, reviewId: null, ...s });

function planFor(orders: OrderForLegacy[], o: { orderIds?: number[]; states?: RowState[]; outboxIds?: number[] } = {}) {
  return planToLegacy({
    outboxIds: o.outboxIds ?? [1, 2, 3],
    orderIds: o.orderIds ?? orders.map((x) => x.id),
    orders: new Map(orders.map((x) => [x.id, captured(x)])),
    states: new Map((o.states ?? [state()]).map((s) => [s.legacyId, s])),
    eudc,
  });
}

// The columns as written: 已派車 A477 ACA3 A8AE, 請放後門 BDD0 A9F1 ABE1 AAF9, times in Taipei.
const WRITTEN = {
  client_id: 101,
  driver_id: 7,
  delivery_date: '323032342D30332D3135', // 2024-03-15
  cylinder_50kg: 0,
  cylinder_20kg: 2,
  cylinder_16kg: 0,
  cylinder_10kg: 0,
  cylinder_4kg: 0,
  status: 'A477ACA3A8AE',
  amount: 1500,
  notes: 'BDD0A9F1ABE1AAF9',
  created_at: '323032342D30332D31352030393A30303A3030', // 2024-03-15 09:00:00
  updated_at: '323032342D30332D31352031303A30303A3030', // 2024-03-15 10:00:00
};

describe('write-back planning', () => {
  it('an order legacy has: written only if legacy still holds the content last seen (its hash)', () => {
    const p = planFor([order()]);
    expect(p.writes).toHaveLength(1);
    expect(p.writes[0].orderId).toBe(55);
    expect(p.writes[0].expect).toEqual({ legacyId: 5001, hash: 'h-seen' });
    expect(asHex(p.writes[0].values)).toEqual(WRITTEN);
    // The order as merge values, to keep legacy's bytes of what it does not change.
    expect(p.writes[0].order).toEqual({
      delivery_date: '2024-03-15',
      qty_50kg: 0,
      qty_20kg: 2,
      qty_16kg: 0,
      qty_10kg: 0,
      qty_4kg: 0,
      status: 'assigned',
      amount: 1500,
      notes: '請放後門',
      created_at: '2024-03-15T01:00:00.000Z',
      updated_at: '2024-03-15T02:00:00.000Z',
    });
    expect(p.images).toEqual({ 55: { id: 55, legacy_id: 5001, status: 'assigned', notes: '請放後門' } });
    expect(p.held).toEqual([]);
    expect(p.outboxIds).toEqual([1, 2, 3]);
    expect(p.read).toBe(1);
  });

  it('an order created in the new system: a new legacy row (insert), with no merge values (legacy has no bytes to keep)', () => {
    const p = planFor([order({ id: 56, legacy_id: null })], { states: [] });
    expect(p.writes.map((w) => [w.orderId, w.expect, w.order])).toEqual([[56, { insert: true }, null]]);
    expect(asHex(p.writes[0].values)).toEqual(WRITTEN);
  });

  it('a delivery deleted in legacy whose order won (update_wins): re-created with its id, only if still absent', () => {
    const p = planFor([order()], { states: [state({ contentHash: ABSENT })] });
    expect(p.writes.map((w) => [w.expect, w.order])).toEqual([[{ absent: 5001 }, null]]);
  });

  it('an order named twice by the outbox is planned once', () => {
    const p = planFor([order()], { orderIds: [55, 55, 55] });
    expect(p.writes).toHaveLength(1);
    expect(p.read).toBe(1);
  });

  it('an order whose delivery the sync has not read yet is held back, not written blind', () => {
    const p = planFor([order({ legacy_id: 6000 })]);
    expect(p.writes).toEqual([]);
    expect(p.held).toEqual([
      {
        legacyId: 55,
        hash: '',
        reasonKind: 'rule',
        reason: 'legacy delivery 6000 has not been read by the sync yet: the order is written back after it has',
        raw: { id: 55, legacy_id: 6000 },
      },
    ]);
  });

  it('deletions are not written back: an order gone, or deleted in the new system, is held back', () => {
    const p = planFor([order({ id: 57, deleted_at: '2024-03-16T00:00:00.000Z' })], { orderIds: [57, 58] });
    expect(p.writes).toEqual([]);
    expect(p.held.map((h) => [h.legacyId, h.reasonKind, h.reason, h.raw])).toEqual([
      [57, 'rule', 'order deleted in the new system: deletions are not written back to legacy', { id: 57, legacy_id: 5001 }],
      [58, 'rule', 'order deleted from the new system (no row): deletions are not written back to legacy', { id: 58 }],
    ]);
    expect(p.read).toBe(2);
  });

  it('an order under review: its review shows the new version, nothing is written', () => {
    const p = planFor([order()], { states: [state({ reviewId: 31 })] });
    expect(p.writes).toEqual([]);
    expect(p.held).toEqual([]);
    expect(p.reviewUpdates).toEqual([{ reviewId: 31, version: { id: 55, legacy_id: 5001, status: 'assigned', notes: '請放後門' } }]);
    expect(p.images).toEqual({});
  });

  it('text legacy cannot hold: held back (encode) with the reason and the order\'s values; nothing of it written', () => {
    const p = planFor([order({ notes: '請放後門😀' }), order({ id: 56, legacy_id: null, notes: '王堃' })], { states: [state()] });
    expect(p.writes.map((w) => [w.orderId, asHex(w.values).notes])).toEqual([[56, 'A4FDFA40']]); // 王 A4FD, 堃 EUDC FA40
    expect(p.held).toHaveLength(1);
    expect(p.held[0]).toMatchObject({
      legacyId: 55,
      reasonKind: 'encode',
      reason: "notes: character '😀' (U+1F600) at position 4 has no CP950 or EUDC code",
      raw: { id: 55, legacy_id: 5001, notes: '請放後門😀', status: 'assigned' },
    });
    expect(Object.keys(p.images)).toEqual(['56']);
  });

  it('a customer with no legacy client: held back (missing_parent)', () => {
    const p = planFor([order({ customer_legacy_id: null })]);
    expect(p.held.map((h) => [h.reasonKind, h.reason])).toEqual([['missing_parent', 'customer 3 has no legacy client (customers are not written back)']]);
    const q = planFor([order({ driver_legacy_id: null })]);
    expect(q.held.map((h) => [h.reasonKind, h.reason])).toEqual([['missing_parent', 'driver 12 has no legacy driver (drivers are not written back)']]);
  });
});

describe("an operator's resolution is refused when legacy could not hold it", () => {
  it('EUDC characters of the map, astral ones included, are accepted', () => {
    expect(legacyRefusal({ notes: '張𡘙峯', status: 'cancelled' }, eudc)).toBeNull(); // FA49, FA43
  });
  it('a character in neither CP950 nor the map is refused, named with its position', () => {
    expect(legacyRefusal({ notes: '林𠀀' }, eudc)).toBe("notes: character '𠀀' (U+20000) at position 1 has no CP950 or EUDC code");
  });
  it('a status that is a property of every object is still no status', () => {
    expect(legacyRefusal({ status: 'constructor' }, eudc)).toBe("status: 'constructor' is not an order status (pending, assigned, delivered, cancelled)");
  });
});

// ─────────────────────────────── the legacy sink ───────────────────────────────

describe('the legacy sink carries out the plan (in-memory SQLite)', () => {
  let db: Database.Database;
  const STATUS_PENDING = hex('ABDD B074 B065'); // 待配送
  const NOTES = hex('A4FD FA40 A140'); // 王堃　 (EUDC and U+3000 padding)

  beforeEach(() => {
    db = new Database(':memory:');
    createLegacySchema(db);
    db.prepare(`INSERT INTO clients (id, client_code, invoice_title, created_at, updated_at) VALUES (101, 'C000101', 'x', '2020-01-01 00:00:00', '2020-01-01 00:00:00')`).run();
    db.prepare(`INSERT INTO drivers (id, employee_no, name, created_at, updated_at) VALUES (7, 'D0007', 'y', '2020-01-01 00:00:00', '2020-01-01 00:00:00')`).run();
    // notes as a BLOB of CP950 bytes (a plain Buffer binds as a BLOB), status as CP950 TEXT.
    db.prepare(
      `INSERT INTO deliveries (id, client_id, driver_id, delivery_date, cylinder_20kg, status, amount, notes, created_at, updated_at)
       VALUES (5001, 101, 7, '2024-03-15', 2, CAST(? AS TEXT), 1500, ?, '2024/3/15 上午 9:00:00', '2024-03-15 09:00:00')`,
    ).run(STATUS_PENDING, NOTES);
  });
  afterEach(() => db.close());

  const current = () => readByIds(db, deliveries, [5001])[0];
  const storage = (col: string) => (db.prepare(`SELECT typeof(${col}) AS t, hex(${col}) AS h FROM deliveries WHERE id = 5001`).get() as { t: string; h: string });
  /** The write the plan makes for the order (notes as the new system holds them: trimmed). */
  const writeOf = (o: Partial<OrderForLegacy>, hash: string): LegacyWrite => {
    const p = planFor([order({ status: 'pending', notes: '王堃', created_at: '2024-03-15T01:00:00.000Z', updated_at: '2024-03-15T01:00:00.000Z', ...o })], { states: [state({ contentHash: hash })] });
    expect(p.held).toEqual([]);
    return p.writes[0];
  };

  it('only the columns the order changed are set; the others keep their bytes and storage class', () => {
    const hash = contentHash(current());
    const [r] = writeDeliveries(db, 'b1', [writeOf({ status: 'delivered', updated_at: '2024-03-15T03:00:00.000Z' }, hash)], {}, eudc);
    expect(r).toMatchObject({ orderId: 55, legacyId: 5001, operation: 'update' });
    expect(storage('status')).toEqual({ t: 'text', h: 'A477B065B946' }); // 已送達
    expect(storage('updated_at')).toEqual({ t: 'text', h: Buffer.from('2024-03-15 11:00:00').toString('hex').toUpperCase() });
    // Unchanged: the BLOB stays a BLOB with its padding and EUDC code, the zh-TW created_at stays as written.
    expect(storage('notes')).toEqual({ t: 'blob', h: 'A4FDFA40A140' });
    expect(db.prepare('SELECT created_at FROM deliveries WHERE id = 5001').pluck().get()).toBe('2024/3/15 上午 9:00:00');
    // What legacy → new will see next: the hash of the row as written (no ping-pong).
    expect(r.hash).toBe(contentHash(current()));
    expect(r.ts).toBe('2024-03-15 11:00:00');
  });

  it('legacy changed the delivery since it was last read: skipped, nothing written', () => {
    const stale = contentHash(current());
    db.prepare(`UPDATE deliveries SET amount = 1600 WHERE id = 5001`).run();
    const before = storage('status');
    const [r] = writeDeliveries(db, 'b1', [writeOf({ status: 'delivered' }, stale)], {}, eudc);
    expect(r).toMatchObject({ operation: 'skipped', legacyId: 5001, reason: 'legacy delivery 5001 changed since it was last read: the next legacy → new pass merges both changes' });
    expect(storage('status')).toEqual(before);
    expect(db.prepare('SELECT amount FROM deliveries WHERE id = 5001').pluck().get()).toBe(1600);
  });

  it('an order legacy already holds writes nothing (the sync\'s own write is not written again)', () => {
    const hash = contentHash(current());
    const [r] = writeDeliveries(db, 'b1', [writeOf({}, hash)], {}, eudc);
    expect(r.operation).toBe('unchanged');
    expect(storage('notes')).toEqual({ t: 'blob', h: 'A4FDFA40A140' });
    expect(r.hash).toBe(hash);
  });

  it('a new order gets a new legacy row; the same batch again inserts nothing more', () => {
    const p = planFor([order({ id: 56, legacy_id: null, status: 'pending', notes: null })], { states: [] });
    const [r] = writeDeliveries(db, 'b2', p.writes, {}, eudc);
    expect(r.operation).toBe('insert');
    expect(r.legacyId).toBe(5002);
    expect(db.prepare('SELECT hex(status) AS s, notes, client_id, driver_id FROM deliveries WHERE id = 5002').get()).toEqual({ s: 'ABDDB074B065', notes: null, client_id: 101, driver_id: 7 });
    const [again] = writeDeliveries(db, 'b2', p.writes, {}, eudc);
    expect(again).toEqual(r);
    expect(db.prepare('SELECT count(*) FROM deliveries').pluck().get()).toBe(2);
  });

  it('a delivery to re-create with its id is skipped when it exists again', () => {
    const p = planFor([order()], { states: [state({ contentHash: ABSENT })] });
    const [r] = writeDeliveries(db, 'b3', p.writes, {}, eudc);
    expect(r).toMatchObject({ operation: 'skipped', legacyId: 5001, reason: 'legacy delivery 5001 exists again: the next legacy → new pass merges it' });
    db.prepare('DELETE FROM deliveries WHERE id = 5001').run();
    const [r2] = writeDeliveries(db, 'b4', p.writes, {}, eudc);
    expect(r2).toMatchObject({ operation: 'insert', legacyId: 5001 });
    expect(storage('notes')).toEqual({ t: 'text', h: 'BDD0A9F1ABE1AAF9' }); // 請放後門
  });
});
