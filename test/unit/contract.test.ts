/**
 * The mapping contract (shared/contract/new-system.md, legacy-schema.sql, eudc-map.json),
 * checked against values written by hand. Legacy rows are built byte by byte (CP950 as hex,
 * EUDC codes, UTF-8 rows of the 2023 patch, padding, 上午/下午 timestamps, NULLs) and the rows
 * the new system must receive are literal objects derived from the contract's rules, never
 * from the product's converter. The reverse direction (orders written back to legacy
 * `deliveries`) is checked against hand-written CP950 hex.
 *
 * CP950 codes used here (Windows code page 950):
 *   王 A4FD  先 A5FD  生 A5CD  林 AA4C  張 B169  明 A9FA  U+3000 A140
 *   幸運瓦斯行 A9AF B942 A5CB B4B5 A6E6     大安區 A46A A677 B0CF     信義區 AB48 B871 B0CF
 *   中山區 A4A4 A473 B0CF     松山區 AA51 A473 B0CF     下午 A455 A4C8     上午 A457 A4C8
 *   待配送 ABDD B074 B065     已派車 A477 ACA3 A8AE     已送達 A477 B065 B946
 *   已取消 A477 A8FA AEF8     已退貨 A477 B068 B366     請放後門 BDD0 A9F1 ABE1 AAF9
 *   十點前送達 A451 C249 AB65 B065 B946      後門有狗 ABE1 AAF9 A6B3 AAAF
 *   full-width ０-９ A2AF-A2B8, full-width － A1D0, 、 A142, ， A141
 * EUDC (eudc-map.json): FA40 堃, FA43 峯, FA49 𡘙 (U+21619, outside the BMP); FA50 is not in the map.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RawRow } from '../../src/capture/rawRow';
import { loadSyncConfig, tableConfig } from '../../src/config/tables';
import { RuleError } from '../../src/convert/rules';
import { clients, deliveries, drivers, type NewValues } from '../../src/convert/tables';
import { LEGACY_DELIVERY_COLUMNS, orderToLegacy, type LegacyValue, type OrderForLegacy } from '../../src/convert/toLegacy';
import { convertBatch, convertRow, type ConversionResult } from '../../src/convert/toNew';
import { loadEudcMap } from '../../src/encoding/eudc';
import { planToNew } from '../../src/reconcile/toNew';

const REPO = path.resolve(__dirname, '../..');
const CONTRACT_DIR = path.resolve(REPO, '../shared/contract');
const eudc = loadEudcMap(path.join(REPO, 'config/eudc-map.json'));
const config = loadSyncConfig(path.join(REPO, 'config/tables.json'));
const enc = (table: string) => tableConfig(config, table).textColumns;

/** Bytes from hex (spaces allowed) and ASCII pieces. */
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const cat = (...parts: Array<Buffer | string>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? ascii(p) : p)));
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

const SP3000 = 'A140';
const XIAWU = 'A455 A4C8'; // 下午
const SHANGWU = 'A457 A4C8'; // 上午

/** The converted row, or the test fails with the held-back reason. */
function converted(r: ConversionResult) {
  if (!r.ok) throw new Error(`expected a converted row, held back: ${r.held.reasonKind}: ${r.held.reason}`);
  return r.row;
}
function held(r: ConversionResult) {
  if (r.ok) throw new Error(`expected a held-back row, converted to ${JSON.stringify(r.row.values)}`);
  return r.held;
}

// ─────────────────────────────── legacy → new ───────────────────────────────

describe('contract: clients → customers', () => {
  it('a CP950 client: names trimmed of spaces and U+3000, phone from full-width digits, contact kept whole, 下午 created_at, empty notes NULL', () => {
    const row: RawRow = {
      id: 101,
      cols: {
        client_code: ascii('C000123'),
        invoice_title: hex(`${SP3000} A9AF B942 A5CB B4B5 A6E6 20`), // 　幸運瓦斯行␠
        short_name: hex('A9AF B942'), // 幸運
        address: cat(hex('A578 A55F A5AB A46A A677 B0CF B45F BFB3 AB6E B8F4 A440 AC71'), '1', hex('B8B9')), // 台北市大安區復興南路一段1號
        contact_person: hex('A4FD A5FD A5CD 20 A2AF A2B8 A2B0 A2B1 A1D0 A2B2 A2B3 A2B4 A1D0 A2B5 A2B6 A2B7'), // 王先生 ０９１２－３４５－６７８
        notes: hex(`20 ${SP3000} 09`), // padding only
        district: hex('A46A A677 B0CF'), // 大安區
        is_active: 1,
        created_at: cat('2013/5/7 ', hex(XIAWU), ' 3:04:05'), // 2013/5/7 下午 3:04:05
        updated_at: ascii('2024-01-02 08:00:00'),
      },
    };
    const r = converted(convertRow(row, clients, enc('clients'), eudc));
    expect(r.legacyId).toBe(101);
    expect(r.ts).toBe('2024-01-02 08:00:00');
    expect(r.parents).toEqual({});
    expect(r.values).toEqual({
      customer_code: 'C000123',
      name: '幸運瓦斯行',
      short_name: '幸運',
      address: '台北市大安區復興南路一段1號',
      phone: '0912345678',
      contact_person: '王先生 ０９１２－３４５－６７８',
      notes: null,
      district: '大安區',
      is_active: true,
      created_at: '2013-05-07T07:04:05.000Z', // 15:04:05 in Taipei
      updated_at: '2024-01-02T00:00:00.000Z',
    });
  });

  it('an empty invoice_title gives name = short_name; 上午 12:30 is 00:30; a land line with an extension; notes from a BLOB of CP950 bytes; inactive', () => {
    const row: RawRow = {
      id: 102,
      cols: {
        client_code: ascii('C000124'),
        invoice_title: hex(`20 20 ${SP3000}`),
        short_name: hex(`${SP3000} AA4C A470 A96A`), // 　林小姐
        address: null,
        contact_person: cat(hex('AA4C A470 A96A'), '(02)2345-6789', hex('A4C0 BEF7'), '12'), // 林小姐(02)2345-6789分機12
        notes: hex('ABE1 AAF9 A6B3 AAAF'), // 後門有狗 (a BLOB reads as the same Buffer)
        district: hex('AB48 B871 B0CF'), // 信義區
        is_active: 0,
        created_at: cat('2012/11/30 ', hex(SHANGWU), ' 12:30:00'), // 上午 12:30 → 00:30
        updated_at: ascii('2014-01-01 00:00:00'),
      },
    };
    expect(converted(convertRow(row, clients, enc('clients'), eudc)).values).toEqual({
      customer_code: 'C000124',
      name: '林小姐',
      short_name: '林小姐',
      address: null,
      phone: '0223456789',
      contact_person: '林小姐(02)2345-6789分機12',
      notes: '後門有狗',
      district: '信義區',
      is_active: false,
      created_at: '2012-11-29T16:30:00.000Z', // the previous day in UTC
      updated_at: '2013-12-31T16:00:00.000Z',
    });
  });

  it('a row the 2023 patch wrote in UTF-8 is read as UTF-8; +886 becomes 0; 下午 12:15 is 12:15', () => {
    const row: RawRow = {
      id: 103,
      cols: {
        client_code: ascii('C000125'),
        invoice_title: hex('E999B3 E8A898 E59586 E8A18C'), // 陳記商行 in UTF-8
        short_name: null,
        address: hex('E6A183 E59C92 E5B882'), // 桃園市 in UTF-8
        contact_person: ascii('+886 912 345 678'),
        notes: null,
        district: hex('E69DBE E5B1B1 E58D80'), // 松山區 in UTF-8
        is_active: 1,
        created_at: cat('2014/1/1 ', hex('E4B88B E58D88'), ' 12:15:00'), // 2014/1/1 下午 12:15:00 in UTF-8
        updated_at: ascii('2023-03-01 12:00:00'),
      },
    };
    expect(converted(convertRow(row, clients, enc('clients'), eudc)).values).toEqual({
      customer_code: 'C000125',
      name: '陳記商行',
      short_name: null,
      address: '桃園市',
      phone: '0912345678',
      contact_person: '+886 912 345 678',
      notes: null,
      district: '松山區',
      is_active: true,
      created_at: '2014-01-01T04:15:00.000Z',
      updated_at: '2023-03-01T04:00:00.000Z',
    });
  });

  const client = (id: number, cols: Partial<RawRow['cols']>): RawRow => ({
    id,
    cols: {
      client_code: ascii(`C000${id}`),
      invoice_title: hex('A9AF B942'),
      short_name: null,
      address: null,
      contact_person: null,
      notes: null,
      district: null,
      is_active: 1,
      created_at: ascii('2020-01-01 10:00:00'),
      updated_at: ascii('2020-01-01 10:00:00'),
      ...cols,
    },
  });

  it('no contact text gives no phone; a tax id is no phone', () => {
    expect(converted(convertRow(client(201, {}), clients, enc('clients'), eudc)).values).toMatchObject({ phone: null, contact_person: null });
    const taxId = client(202, { contact_person: cat(hex('B2CE BD73'), '28123456') }); // 統編28123456
    expect(converted(convertRow(taxId, clients, enc('clients'), eudc)).values).toMatchObject({ phone: null, contact_person: '統編28123456' });
  });

  it('both names empty: held back (rule), with the raw bytes as hex', () => {
    const h = held(convertRow(client(203, { invoice_title: hex(SP3000), short_name: ascii('  ') }), clients, enc('clients'), eudc));
    expect(h.legacyId).toBe(203);
    expect(h.reasonKind).toBe('rule');
    expect(h.reason).toBe('invoice_title and short_name are both empty (name is required)');
    expect(h.raw).toMatchObject({ id: 203, client_code: '43303030323033', invoice_title: 'a140', short_name: '2020' });
  });

  it('a EUDC code missing from the map: held back (decode), naming the column and the code, never ? or U+FFFD', () => {
    const h = held(convertRow(client(204, { contact_person: hex('A4FD FA50') }), clients, enc('clients'), eudc));
    expect(h.reasonKind).toBe('decode');
    expect(h.reason).toMatch(/^contact_person: .*FA50/);
    expect(h.reason).not.toMatch(/[?\uFFFD]/);
    expect(h.raw).toMatchObject({ contact_person: 'a4fdfa50' });
  });

  it('an unparseable timestamp holds the row back', () => {
    const h = held(convertRow(client(205, { created_at: ascii('2020-13-01 10:00:00') }), clients, enc('clients'), eudc));
    expect(h.reasonKind).toBe('rule');
    expect(h.reason).toMatch(/created_at/);
    const h2 = held(convertRow(client(206, { updated_at: ascii('yesterday') }), clients, enc('clients'), eudc));
    expect(h2.reason).toBe("unparseable updated_at 'yesterday'");
  });
});

describe('contract: drivers → drivers', () => {
  it('a name with EUDC codes, areas split and deduplicated, +886(0)2 land line, inactive, 上午 created_at', () => {
    const row: RawRow = {
      id: 7,
      cols: {
        employee_no: ascii('D0042'),
        name: hex(`AA4C FA40 ${SP3000}`), // 林堃　
        phone: ascii('+886(0)2 2345 6789'),
        // 大安區、信義區，中山區/大安區 松山區
        familiar_areas: hex('A46A A677 B0CF A142 AB48 B871 B0CF A141 A4A4 A473 B0CF 2F A46A A677 B0CF 20 AA51 A473 B0CF'),
        is_active: 0,
        created_at: cat('2010/12/31 ', hex(SHANGWU), ' 9:05:00'),
        updated_at: ascii('2024-06-30 23:59:59'),
      },
    };
    const r = converted(convertRow(row, drivers, enc('drivers'), eudc));
    expect(r.values).toEqual({
      employee_no: 'D0042',
      name: '林堃',
      phone: '0223456789',
      familiar_areas: ['大安區', '信義區', '中山區', '松山區'],
      is_active: false,
      created_at: '2010-12-31T01:05:00.000Z',
      updated_at: '2024-06-30T15:59:59.000Z',
    });
  });

  it('an astral EUDC character (FA49 𡘙) and 峯 (FA43); NULL phone and areas give NULL and []', () => {
    const row: RawRow = {
      id: 8,
      cols: {
        employee_no: ascii('D0043'),
        name: hex('B169 FA49 FA43'), // 張𡘙峯
        phone: null,
        familiar_areas: null,
        is_active: 1,
        created_at: ascii('2016-02-29 12:00:00'),
        updated_at: ascii('2016-02-29 12:00:00'),
      },
    };
    expect(converted(convertRow(row, drivers, enc('drivers'), eudc)).values).toEqual({
      employee_no: 'D0043',
      name: '張\u{21619}峯',
      phone: null,
      familiar_areas: [],
      is_active: true,
      created_at: '2016-02-29T04:00:00.000Z',
      updated_at: '2016-02-29T04:00:00.000Z',
    });
  });

  it('a mobile with dots, areas of spaces only give []', () => {
    const row: RawRow = {
      id: 9,
      cols: {
        employee_no: ascii('D0044'),
        name: hex('A4FD A9FA'), // 王明
        phone: ascii('0912.345.678'),
        familiar_areas: hex(`20 ${SP3000} 20`),
        is_active: 1,
        created_at: ascii('2016-01-01 00:00:00'),
        updated_at: ascii('2016-01-01 00:00:00'),
      },
    };
    expect(converted(convertRow(row, drivers, enc('drivers'), eudc)).values).toMatchObject({ name: '王明', phone: '0912345678', familiar_areas: [] });
  });
});

describe('contract: deliveries → orders', () => {
  const delivery = (id: number, cols: Partial<RawRow['cols']>): RawRow => ({
    id,
    cols: {
      client_id: 101,
      driver_id: 7,
      delivery_date: ascii('2024-03-15'),
      cylinder_50kg: 1,
      cylinder_20kg: 2,
      cylinder_16kg: 0,
      cylinder_10kg: 3,
      cylinder_4kg: 4,
      status: hex('A477 B065 B946'), // 已送達
      amount: 2400,
      notes: hex(`${SP3000} BDD0 A9F1 ABE1 AAF9 ${SP3000}`), // 　請放後門　
      created_at: ascii('2024-03-15 09:30:00'),
      updated_at: ascii('2024-03-15 14:45:10'),
      ...cols,
    },
  });

  it('a delivered delivery: quantities and amount copied, status mapped, notes trimmed, parents by legacy id', () => {
    const r = converted(convertRow(delivery(5001, {}), deliveries, enc('deliveries'), eudc));
    expect(r.parents).toEqual({ client_id: 101, driver_id: 7 });
    expect(r.values).toEqual({
      delivery_date: '2024-03-15',
      qty_50kg: 1,
      qty_20kg: 2,
      qty_16kg: 0,
      qty_10kg: 3,
      qty_4kg: 4,
      status: 'delivered',
      amount: 2400,
      notes: '請放後門',
      created_at: '2024-03-15T01:30:00.000Z',
      updated_at: '2024-03-15T06:45:10.000Z',
    });
  });

  it.each<[string, string, string]>([
    ['待配送', 'ABDD B074 B065', 'pending'],
    ['已派車', 'A477 ACA3 A8AE', 'assigned'],
    ['已送達', 'A477 B065 B946', 'delivered'],
    ['已取消', 'A477 A8FA AEF8', 'cancelled'],
    ['已派車 padded', 'A477 ACA3 A8AE 20 20', 'assigned'],
  ])('status %s (%s) → %s', (_word, bytes, status) => {
    expect(converted(convertRow(delivery(5002, { status: hex(bytes) }), deliveries, enc('deliveries'), eudc)).values.status).toBe(status);
  });

  it('the same statuses written by the 2023 patch in UTF-8 map the same', () => {
    const r = converted(convertRow(delivery(5003, { status: utf8('已取消'), notes: utf8('十點前送達') }), deliveries, enc('deliveries'), eudc));
    expect(r.values).toMatchObject({ status: 'cancelled', notes: '十點前送達' });
  });

  it('no driver, no amount, no notes: NULLs', () => {
    const r = converted(convertRow(delivery(5004, { driver_id: null, amount: null, notes: null, status: hex('ABDD B074 B065') }), deliveries, enc('deliveries'), eudc));
    expect(r.parents).toEqual({ client_id: 101, driver_id: null });
    expect(r.values).toMatchObject({ status: 'pending', amount: null, notes: null });
  });

  it('any other status holds the row back (rule), naming it', () => {
    const h = held(convertRow(delivery(5005, { status: hex('A477 B068 B366') }), deliveries, enc('deliveries'), eudc)); // 已退貨
    expect(h).toMatchObject({ legacyId: 5005, reasonKind: 'rule', reason: "unknown status '已退貨'" });
    expect(h.raw).toMatchObject({ status: 'a477b068b366' });
  });

  it('invalid CP950 bytes hold the row back (decode) and the rest of the batch goes on', () => {
    const batch = convertBatch(deliveries, enc('deliveries'), eudc, {
      rows: [delivery(5006, { notes: hex('A4FD 80') }), delivery(5007, {})],
      deleted: [5008],
    });
    expect(batch.converted.map((r) => r.legacyId)).toEqual([5007]);
    expect(batch.held.map((h) => [h.legacyId, h.reasonKind])).toEqual([[5006, 'decode']]);
    expect(batch.held[0].reason).toMatch(/^notes: /);
    expect(batch.deleted).toEqual([5008]);
  });

  it('rule 8: customer_id / driver_id are the new ids of the parents; a delivery whose parent is missing waits, it is not dropped', () => {
    const cfg = tableConfig(config, 'deliveries');
    const batch = convertBatch(deliveries, enc('deliveries'), eudc, {
      rows: [delivery(5001, {}), delivery(5009, { client_id: 999 }), delivery(5010, { driver_id: null })],
      deleted: [],
    });
    const plan = planToNew({
      cfg,
      batch,
      states: new Map(),
      current: new Map(),
      parents: new Map([
        ['customer_id', new Map([[101, 3]])],
        ['driver_id', new Map([[7, 12]])],
      ]),
      keyOwners: new Map(),
    });
    expect(plan.inserts).toEqual([
      {
        legacyId: 5001,
        values: {
          delivery_date: '2024-03-15',
          qty_50kg: 1,
          qty_20kg: 2,
          qty_16kg: 0,
          qty_10kg: 3,
          qty_4kg: 4,
          status: 'delivered',
          amount: 2400,
          notes: '請放後門',
          created_at: '2024-03-15T01:30:00.000Z',
          updated_at: '2024-03-15T06:45:10.000Z',
          customer_id: 3,
          driver_id: 12,
          deleted_at: null,
        },
      },
      {
        legacyId: 5010,
        values: expect.objectContaining({ customer_id: 3, driver_id: null, deleted_at: null }) as NewValues,
      },
    ]);
    expect(plan.waiting).toEqual([{ legacyId: 5009, reason: 'client_id 999 has no customers row yet (legacy clients row not synced)' }]);
  });
});

// ─────────────────────────────── new → legacy ───────────────────────────────

describe('contract: orders → legacy deliveries (write-back)', () => {
  const order = (o: Partial<OrderForLegacy> = {}): OrderForLegacy => ({
    id: 55,
    legacy_id: null,
    customer_id: 3,
    customer_legacy_id: 101,
    driver_id: 12,
    driver_legacy_id: 7,
    delivery_date: '2024-03-15',
    qty_50kg: 1,
    qty_20kg: 2,
    qty_16kg: 0,
    qty_10kg: 3,
    qty_4kg: 4,
    status: 'delivered',
    amount: 2400,
    notes: '林堃 十點前送達',
    created_at: '2024-03-15T01:30:00.000Z',
    updated_at: '2024-03-15T20:00:00.000Z',
    deleted_at: null,
    ...o,
  });
  /** Legacy values with Buffers as upper-case hex, to compare with literals. */
  const asHex = (v: Record<string, LegacyValue>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Buffer.isBuffer(x) ? x.toString('hex').toUpperCase() : x]));
  const H = (s: string) => s.replace(/\s+/g, '');

  it('writes every delivery column: parents as legacy ids, text as CP950, EUDC back to its code, timestamps in Taipei time', () => {
    expect(asHex(orderToLegacy(order(), eudc))).toEqual({
      client_id: 101,
      driver_id: 7,
      delivery_date: H('32303234 2D3033 2D3135'), // 2024-03-15
      cylinder_50kg: 1,
      cylinder_20kg: 2,
      cylinder_16kg: 0,
      cylinder_10kg: 3,
      cylinder_4kg: 4,
      status: H('A477 B065 B946'), // 已送達
      amount: 2400,
      notes: H('AA4C FA40 20 A451 C249 AB65 B065 B946'), // 林堃 十點前送達
      created_at: H('32303234 2D3033 2D3135 20 3039 3A3330 3A3030'), // 2024-03-15 09:30:00
      updated_at: H('32303234 2D3033 2D3136 20 3034 3A3030 3A3030'), // 2024-03-16 04:00:00 (the next day in Taipei)
    });
  });

  it('writes exactly the legacy columns of deliveries, in the schema order, and never the id', () => {
    expect(LEGACY_DELIVERY_COLUMNS.map(([c]) => c)).toEqual([
      'client_id', 'driver_id', 'delivery_date', 'cylinder_50kg', 'cylinder_20kg', 'cylinder_16kg', 'cylinder_10kg', 'cylinder_4kg', 'status', 'amount', 'notes', 'created_at', 'updated_at',
    ]);
    expect(Object.keys(orderToLegacy(order(), eudc))).toEqual(LEGACY_DELIVERY_COLUMNS.map(([c]) => c));
  });

  it.each<[OrderForLegacy['status'], string]>([
    ['pending', 'ABDD B074 B065'],
    ['assigned', 'A477 ACA3 A8AE'],
    ['delivered', 'A477 B065 B946'],
    ['cancelled', 'A477 A8FA AEF8'],
  ])('status %s is written back as %s', (status, bytes) => {
    expect(asHex(orderToLegacy(order({ status }), eudc)).status).toBe(H(bytes));
  });

  it('no driver, no amount, no notes: NULLs; an astral EUDC character goes back to its code', () => {
    expect(asHex(orderToLegacy(order({ driver_id: null, driver_legacy_id: null, amount: null, notes: null }), eudc))).toMatchObject({ driver_id: null, amount: null, notes: null });
    expect(asHex(orderToLegacy(order({ notes: '張\u{21619}峯' }), eudc)).notes).toBe('B169FA49FA43');
  });

  it('text CP950 and the EUDC map cannot hold is refused, naming the column and the character, never written as ?', () => {
    expect(() => orderToLegacy(order({ notes: '請放後門😀' }), eudc)).toThrow(RuleError);
    expect(() => orderToLegacy(order({ notes: '請放後門😀' }), eudc)).toThrow("notes: character '😀' (U+1F600) at position 4 has no CP950 or EUDC code");
    // 𠀾 (FA4F) is in the map, 𠀀 is not.
    expect(asHex(orderToLegacy(order({ notes: '𠀾' }), eudc)).notes).toBe('FA4F');
    expect(() => orderToLegacy(order({ notes: '𠀀' }), eudc)).toThrow(/^notes: character '𠀀' \(U\+20000\)/);
  });

  it('a customer or driver that has no legacy row is refused (customers and drivers are not written back)', () => {
    expect(() => orderToLegacy(order({ customer_legacy_id: null }), eudc)).toThrow('customer 3 has no legacy client (customers are not written back)');
    expect(() => orderToLegacy(order({ driver_legacy_id: null }), eudc)).toThrow('driver 12 has no legacy driver (drivers are not written back)');
  });

  it('a round trip: the bytes written back convert to the order the new system holds', () => {
    const o = order({ notes: '林堃 十點前送達', updated_at: '2024-03-15T06:45:10.000Z' });
    const v = orderToLegacy(o, eudc);
    const back = converted(convertRow({ id: 5001, cols: v as RawRow['cols'] }, deliveries, enc('deliveries'), eudc));
    expect(back.parents).toEqual({ client_id: 101, driver_id: 7 });
    expect(back.values).toEqual({
      delivery_date: '2024-03-15',
      qty_50kg: 1,
      qty_20kg: 2,
      qty_16kg: 0,
      qty_10kg: 3,
      qty_4kg: 4,
      status: 'delivered',
      amount: 2400,
      notes: '林堃 十點前送達',
      created_at: '2024-03-15T01:30:00.000Z',
      updated_at: '2024-03-15T06:45:10.000Z',
    });
  });
});

// ─────────────────────────────── the contract files ───────────────────────────────

describe('the contract files these values come from', () => {
  it('the EUDC codes used above mean what the contract map says, and the shipped map is the contract map', () => {
    const contract = JSON.parse(readFileSync(path.join(CONTRACT_DIR, 'eudc-map.json'), 'utf8')) as { map: Record<string, string> };
    expect({ FA40: contract.map.FA40, FA43: contract.map.FA43, FA49: contract.map.FA49, FA4F: contract.map.FA4F }).toEqual({ FA40: '堃', FA43: '峯', FA49: '\u{21619}', FA4F: '\u{2003E}' });
    expect(contract.map.FA50).toBeUndefined();
    const shipped = JSON.parse(readFileSync(path.join(REPO, 'config/eudc-map.json'), 'utf8')) as { map: Record<string, string> };
    expect(shipped.map).toEqual(contract.map);
  });

  it('the new columns are the contract tables\' columns (besides id, legacy_id, parents, deleted_at)', () => {
    expect(Object.keys(clients.newColumns).sort()).toEqual(
      ['customer_code', 'name', 'short_name', 'address', 'phone', 'contact_person', 'notes', 'district', 'is_active', 'created_at', 'updated_at'].sort(),
    );
    expect(Object.keys(drivers.newColumns).sort()).toEqual(['employee_no', 'name', 'phone', 'familiar_areas', 'is_active', 'created_at', 'updated_at'].sort());
    expect(Object.keys(deliveries.newColumns).sort()).toEqual(
      ['delivery_date', 'qty_50kg', 'qty_20kg', 'qty_16kg', 'qty_10kg', 'qty_4kg', 'status', 'amount', 'notes', 'created_at', 'updated_at'].sort(),
    );
    expect(deliveries.parents.map((p) => [p.column, p.newColumn, p.required])).toEqual([
      ['client_id', 'customer_id', true],
      ['driver_id', 'driver_id', false],
    ]);
  });
});
