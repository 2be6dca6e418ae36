/**
 * 'auto' text mode on whole rows and batches (src/encoding/cp950.ts: rowEncodingHint,
 * tableEvidence, chooseReading; convertRow and convertBatch pass them on), and the write-back
 * keeping legacy's own bytes of values it does not change (keepUnchanged).
 *
 * Contract: new-system.md rule 1 (text is exactly what the legacy application meant, or its row
 * is held back with the reason), legacy-schema.sql (CP950 text, UTF-8 rows of the 2023 patch,
 * EUDC codes, BLOB notes, padding). Expected texts come from iconv-lite's CP950 table and the
 * EUDC map file, or are the generated text itself; CP950's shape is checked by a scanner of
 * this file's own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { loadSyncConfig, tableConfig } from '../../src/config/tables';
import { prepareLoadPage } from '../../src/apply/loadPage';
import { readIdRange, readTimestampPage } from '../../src/capture/legacyReader';
import type { RawRow } from '../../src/capture/rawRow';
import { clients } from '../../src/convert/tables';
import { keepUnchanged } from '../../src/convert/toLegacy';
import { autoTextValues, convertBatch, convertRow } from '../../src/convert/toNew';
import { decodeLegacyText, encodeCp950, rowEncodingHint, tableEvidence, type TableEvidence } from '../../src/encoding/cp950';
import { loadEudcMap } from '../../src/encoding/eudc';
import { createLegacySchema, generateLegacyDb } from '../../src/fixtures/legacyFixture';
import type { Cursor } from '../../src/shared';

const EUDC_FILE = path.resolve(__dirname, '../../config/eudc-map.json');
const eudc = loadEudcMap(EUDC_FILE);
const eudcByCode = new Map(
  Object.entries((JSON.parse(fs.readFileSync(EUDC_FILE, 'utf8')) as { map: Record<string, string> }).map).map(([h, ch]) => [parseInt(h, 16), ch]),
);
const config = loadSyncConfig(path.resolve(__dirname, '../../config/tables.json'));

// ---------------------------------------------------------------------------------------------
// Test-side knowledge of CP950, from iconv-lite's table code by code.

/** Every code iconv-lite's cp950 decodes to one character, by range. */
const TABLE: Array<[number, string]> = [];
for (let lead = 0xa1; lead <= 0xf9; lead++) {
  for (let trail = 0x40; trail <= 0xfe; trail++) {
    if (trail > 0x7e && trail < 0xa1) continue;
    const ch = iconv.decode(Buffer.from([lead, trail]), 'cp950');
    if ([...ch].length === 1 && !/[\uFFFD\uE000-\uF8FF]/.test(ch)) TABLE.push([(lead << 8) | trail, ch]);
  }
}
const inRange = (lo: number, hi: number) => TABLE.filter(([c]) => c >= lo && c <= hi).map(([, ch]) => ch);
/** Big5 level 1, the frequent hanzi, and level 2, the rare ones. */
const LEVEL1 = inRange(0xa440, 0xc67e);
const LEVEL2 = inRange(0xc940, 0xf9d5);
/** Level-1 hanzi whose two bytes are also a UTF-8 character (lead C2-C6, trail A1-BF: 蘇 C4AC is 'Ĭ'). */
const LEVEL1_UTF8_SHAPED = TABLE.filter(([c]) => c >= 0xc2a1 && c <= 0xc67e && (c & 0xff) >= 0xa1 && (c & 0xff) <= 0xbf).map(([, ch]) => ch);
/** Everything CP950 holds outside Windows' user-defined C6A1-C8FE. */
const ANY_CP950 = TABLE.filter(([c]) => c < 0xc6a1 || c > 0xc8fe).map(([, ch]) => ch);
/** Punctuation of ordinary text: ，、。：；？！（）「」 and U+3000. */
const PUNCTUATION = [...'，、。：；？！（）「」\u3000'];
const EUDC_CHARS = [...eudcByCode.values()];
const PRINTABLE_ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i));

const textOf = (alphabet: string[], maxLength = 8) => fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength }).map((a) => a.join(''));

/** Text as CP950 bytes, EUDC characters through the map file; each character must read back as itself. */
const eudcCodeOf = new Map([...eudcByCode].map(([code, ch]) => [ch, code]));
function cp950Bytes(text: string): Buffer {
  return Buffer.concat(
    [...text].map((ch) => {
      const code = eudcCodeOf.get(ch);
      if (code !== undefined) return Buffer.from([code >> 8, code & 0xff]);
      const b = iconv.encode(ch, 'cp950');
      if (iconv.decode(b, 'cp950') !== ch) throw new Error(`'${ch}' is not CP950`);
      return b;
    }),
  );
}

/** CP950's shape: ASCII and (lead 81-FE, trail 40-7E / A1-FE) pairs. */
function cp950Shaped(b: Buffer): boolean {
  for (let i = 0; i < b.length; ) {
    if (b[i] < 0x80) i += 1;
    else if (b[i] >= 0x81 && b[i] <= 0xfe && i + 1 < b.length && ((b[i + 1] >= 0x40 && b[i + 1] <= 0x7e) || (b[i + 1] >= 0xa1 && b[i + 1] <= 0xfe))) i += 2;
    else return false;
  }
  return true;
}
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function utf8OrNull(b: Buffer): string | null {
  try {
    return strictUtf8.decode(b);
  } catch {
    return null;
  }
}
const isAscii = (b: Buffer) => b.every((x) => x < 0x80);
/** What a value proves by itself: the one encoding of the two whose shape it has. */
function proves(b: Buffer): 'cp950' | 'utf8' | undefined {
  if (isAscii(b)) return undefined;
  const u = utf8OrNull(b) !== null;
  const c = cp950Shaped(b);
  return u === c ? undefined : u ? 'utf8' : 'cp950';
}

/** Test-side exact CP950 decoding (EUDC through the map file); null when a code has no character. */
function cp950OrNull(b: Buffer): string | null {
  if (!cp950Shaped(b)) return null;
  let out = '';
  for (let i = 0; i < b.length; ) {
    if (b[i] < 0x80) {
      out += String.fromCharCode(b[i]);
      i += 1;
      continue;
    }
    const code = (b[i] << 8) | b[i + 1];
    const ch = eudcByCode.get(code) ?? (code >= 0xc6a1 && code <= 0xc8fe ? '\uFFFD' : iconv.decode(b.subarray(i, i + 2), 'cp950'));
    if (/[\uFFFD\uE000-\uF8FF]/.test(ch)) return null;
    out += ch;
    i += 2;
  }
  return out;
}

const BATCHES: Array<TableEvidence | undefined> = [undefined, { cp950Rows: 40, utf8Rows: 0 }, { cp950Rows: 970, utf8Rows: 30 }, { cp950Rows: 0, utf8Rows: 40 }];

// ---------------------------------------------------------------------------------------------
describe("'auto' mode, properties", () => {
  it('CP950 text of common characters lands as itself, alone, in a CP950 row or in any batch not all UTF-8', () => {
    let validUtf8 = 0;
    const common = [...LEVEL1, ...PUNCTUATION, ...PRINTABLE_ASCII];
    fc.assert(
      fc.property(fc.oneof(textOf([...common, ...LEVEL1_UTF8_SHAPED]), textOf([...LEVEL1_UTF8_SHAPED, ...PRINTABLE_ASCII])), fc.constantFrom(...BATCHES.slice(0, 3)), fc.boolean(), (text, table, inCp950Row) => {
        const raw = cp950Bytes(text);
        expect(cp950OrNull(raw)).toBe(text); // the premise
        if (utf8OrNull(raw) !== null && !isAscii(raw)) validUtf8++;
        const d = decodeLegacyText(raw, 'auto', eudc, inCp950Row ? 'cp950' : undefined, table);
        expect(d).toEqual({ ok: true, value: text });
      }),
      { numRuns: 3000 },
    );
    expect(validUtf8).toBeGreaterThan(100); // texts that are UTF-8 too were tried
  });

  it('a UTF-8 row of CJK text with a value only UTF-8 can read lands exactly, every value', () => {
    let readAsCp950Too = 0;
    const cjk = textOf([...LEVEL1, ...LEVEL1, ...LEVEL2, ...EUDC_CHARS, ...PUNCTUATION, ...PRINTABLE_ASCII.slice(16, 60)], 6);
    // Short values of hanzi whose UTF-8 continuation bytes are all A1-BF read as CP950 too (中山).
    const ambiguous = textOf([...'中山信義並壢大川'], 2);
    fc.assert(
      fc.property(fc.array(fc.oneof(cjk, ambiguous), { minLength: 1, maxLength: 6 }), fc.constantFrom(...BATCHES), (texts, table) => {
        const values = texts.map((t) => Buffer.from(t, 'utf8'));
        fc.pre(values.some((v) => proves(v) === 'utf8'));
        readAsCp950Too += values.filter((v) => !isAscii(v) && cp950OrNull(v) !== null).length;
        const hint = rowEncodingHint(values, eudc);
        expect(hint).toBe('utf8');
        expect(values.map((v) => decodeLegacyText(v, 'auto', eudc, hint, table))).toEqual(texts.map((t) => ({ ok: true, value: t })));
      }),
      { numRuns: 1500 },
    );
    expect(readAsCp950Too).toBeGreaterThan(100);
  });

  it('a CP950 row with a value only CP950 can read lands exactly, every value', () => {
    fc.assert(
      fc.property(fc.array(textOf([...ANY_CP950, ...EUDC_CHARS, ...PRINTABLE_ASCII], 6), { minLength: 1, maxLength: 6 }), fc.constantFrom(...BATCHES), (texts, table) => {
        const values = texts.map(cp950Bytes);
        fc.pre(values.some((v) => proves(v) === 'cp950'));
        const hint = rowEncodingHint(values, eudc);
        expect(hint).toBe('cp950');
        expect(values.map((v) => decodeLegacyText(v, 'auto', eudc, hint, table))).toEqual(texts.map((t) => ({ ok: true, value: t })));
      }),
      { numRuns: 1500 },
    );
  });

  it('tableEvidence counts a row as proving an encoding exactly when its values prove it and not the other', () => {
    const value = fc.oneof(
      textOf([...LEVEL1, ...LEVEL2, ...PRINTABLE_ASCII], 4).map((t) => Buffer.from(t, 'utf8')),
      textOf([...ANY_CP950, ...PRINTABLE_ASCII], 4).map(cp950Bytes),
      fc.uint8Array({ minLength: 1, maxLength: 6 }).map((a) => Buffer.from(a)),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(fc.array(value, { maxLength: 4 }), { maxLength: 20 }), (rows) => {
        let cp950Rows = 0;
        let utf8Rows = 0;
        for (const row of rows) {
          const ps = new Set(row.map((v) => (v === null ? undefined : proves(v))));
          if (ps.has('cp950') && !ps.has('utf8')) cp950Rows++;
          if (ps.has('utf8') && !ps.has('cp950')) utf8Rows++;
        }
        expect(tableEvidence(rows)).toEqual({ cp950Rows, utf8Rows });
        for (const row of rows) {
          const ps = new Set(row.map((v) => (v === null ? undefined : proves(v))));
          const expected = ps.has('cp950') === ps.has('utf8') ? undefined : ps.has('cp950') ? 'cp950' : 'utf8';
          expect(rowEncodingHint(row.filter((v): v is Buffer => v !== null), eudc)).toBe(expected);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the write-back keeps legacy\'s bytes of an unchanged value, properties', () => {
  /** Text with its bytes as the legacy application may have written them: any of CP950's codes for a character. */
  const BY_CHAR = new Map<string, number[]>();
  for (const [code, ch] of TABLE) if (code < 0xc6a1 || code > 0xc8fe) BY_CHAR.set(ch, [...(BY_CHAR.get(ch) ?? []), code]);
  for (const [code, ch] of eudcByCode) BY_CHAR.set(ch, [code]);
  const written = fc
    .array(fc.tuple(fc.constantFrom(...[...BY_CHAR.keys()], ...PRINTABLE_ASCII), fc.nat()), { minLength: 1, maxLength: 8 })
    .map((items) => {
      const text = items.map(([ch]) => ch).join('');
      const bytes = Buffer.concat(
        items.map(([ch, k]) => {
          const codes = BY_CHAR.get(ch);
          if (!codes) return Buffer.from(ch, 'latin1');
          const code = codes[k % codes.length];
          return Buffer.from([code >> 8, code & 0xff]);
        }),
      );
      return { text, bytes };
    });

  /** A delivery as legacy holds it, its notes in the given bytes. */
  const delivery = (notes: Buffer): RawRow => ({
    id: 1,
    cols: {
      client_id: 1,
      driver_id: null,
      delivery_date: Buffer.from('2031-01-01'),
      cylinder_50kg: 0,
      cylinder_20kg: 1,
      cylinder_16kg: 0,
      cylinder_10kg: 0,
      cylinder_4kg: 0,
      status: Buffer.from([0xab, 0xdd, 0xb0, 0x74, 0xb0, 0x65]), // 待配送
      amount: 100,
      notes,
      created_at: Buffer.from('2031-01-01 10:00:00'),
      updated_at: Buffer.from('2031-01-01 10:00:00'),
    },
  });
  const trimmed = (t: string) => t.replace(/^[ \t\u3000]+|[ \t\u3000]+$/g, '') || null;
  /** The order's write of `text` as notes, everything else as legacy holds it. */
  const write = (text: string) => {
    const fresh = encodeCp950(text, eudc);
    if (!fresh.ok) throw new Error(fresh.reason);
    const order = { delivery_date: '2031-01-01', qty_50kg: 0, qty_20kg: 1, qty_16kg: 0, qty_10kg: 0, qty_4kg: 0, status: 'pending', amount: 100, notes: trimmed(text), created_at: '2031-01-01T02:00:00.000Z', updated_at: '2031-01-01T02:00:00.000Z' };
    return { orderId: 1, expect: { legacyId: 1, hash: '' }, values: { notes: fresh.bytes }, order };
  };

  it('the same value keeps its bytes, whichever codes they use; another value gets bytes that read as it', () => {
    fc.assert(
      fc.property(written, written, (a, b) => {
        const kept = keepUnchanged(delivery(a.bytes), write(a.text), {}, eudc);
        expect((kept.notes as Buffer).equals(a.bytes)).toBe(true);
        const other = keepUnchanged(delivery(b.bytes), write(a.text), {}, eudc);
        if (trimmed(a.text) !== trimmed(b.text)) expect(cp950OrNull(other.notes as Buffer)).toBe(a.text);
        else expect((other.notes as Buffer).equals(b.bytes)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
describe('convertRow and convertBatch pass the row and the batch on', () => {
  const clientRow = (id: number, cols: Partial<Record<string, Buffer | number | null>>): RawRow => ({
    id,
    cols: {
      client_code: Buffer.from(`C${String(id).padStart(6, '0')}`),
      invoice_title: null,
      short_name: null,
      address: null,
      contact_person: null,
      notes: null,
      district: null,
      is_active: 1,
      created_at: Buffer.from('2020-01-01 08:00:00'),
      updated_at: Buffer.from('2020-01-01 08:00:00'),
      ...cols,
    },
  });
  const clientsTable = tableConfig(config, 'clients');

  it('an unknown EUDC code in C6A1-C8FE holds back a row its other values prove CP950', () => {
    const row = clientRow(1, { short_name: cp950Bytes('王小明'), notes: Buffer.from('c6a1', 'hex') });
    const r = convertRow(row, clients, {}, eudc);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.held.reasonKind).toBe('decode');
    expect(r.held.reason).toBe('notes: unknown EUDC code C6A1 at offset 0 (not in the EUDC map)');
    expect(r.held.raw.notes).toBe('c6a1');
  });

  it('a value nothing in its row decides lands by its batch, and is held back alone', () => {
    // short_name 璇 + U+3000 (E6A2 A140) also reads '梡@' as UTF-8; the other values are ASCII.
    const ambiguous = clientRow(1, { short_name: Buffer.from('e6a2a140', 'hex') });
    const cp950Rows = Array.from({ length: 40 }, (_, i) => clientRow(i + 2, { short_name: cp950Bytes('王小明') }));

    const alone = convertRow(ambiguous, clients, clientsTable.textColumns, eudc);
    expect(alone.ok).toBe(false);
    if (!alone.ok) expect(alone.held.reason).toMatch(/^short_name: ambiguous bytes: CP950 reads "璇\u3000" and UTF-8 reads "梡@"/);

    const inBatch = convertBatch(clientsTable.mapping, clientsTable.textColumns, eudc, { rows: [ambiguous, ...cp950Rows], deleted: [] });
    expect(inBatch.held).toEqual([]);
    expect(inBatch.converted[0].values).toMatchObject({ name: '璇', short_name: '璇' });

    const onItsOwn = convertBatch(clientsTable.mapping, clientsTable.textColumns, eudc, { rows: [ambiguous], deleted: [] });
    expect(onItsOwn.held.map((h) => h.legacyId)).toEqual([1]);
  });

  it("a load's page decides such a value by its other rows, as a batch does", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-page-'));
    const db = new Database(path.join(dir, 'legacy.db'));
    try {
      createLegacySchema(db);
      const insert = db.prepare(`INSERT INTO clients (id, client_code, short_name, created_at, updated_at) VALUES (?, ?, ?, '2020-01-01 08:00:00', '2020-01-01 08:00:00')`);
      // Row 1 as above (E6A2 A140: 璇 + U+3000 in CP950, '梡@' in UTF-8); rows 2-41 plain CP950, row 42 ASCII only.
      insert.run(1, 'C000001', Buffer.from('e6a2a140', 'hex'));
      for (let id = 2; id <= 41; id++) insert.run(id, `C${String(id).padStart(6, '0')}`, cp950Bytes('王小明'));
      insert.run(42, 'C000042', Buffer.from('Wang'));
      const load = () => ({ cfg: clientsTable, eudc, parents: new Map(), insertedKeys: new Map<string, number>() });
      const page = (from: number, to: number) => readIdRange(db, clientsTable.mapping, from - 1, to, 100);

      const whole = prepareLoadPage(load(), page(1, 42));
      expect(whole.held).toEqual([]);
      expect(whole.idAt).toHaveLength(42);
      // The ambiguous row's name as the page decided it: the COPY data holds its UTF-8 bytes.
      expect(Buffer.from(whole.rows).includes(Buffer.from('璇'))).toBe(true);

      const alone = prepareLoadPage(load(), page(1, 1));
      expect(alone.held.map((h) => [h.legacyId, h.reason.split(':')[0]])).toEqual([[1, 'short_name']]);
      expect(alone.held[0].reason).toMatch(/ambiguous bytes: CP950 reads "璇\u3000" and UTF-8 reads "梡@", and neither the row, the batch nor/);
      expect(prepareLoadPage(load(), page(42, 42)).held).toEqual([]);
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("autoTextValues is a row's text values in 'auto' mode, which a configured column leaves out", () => {
    const row = clientRow(1, { short_name: cp950Bytes('王'), notes: Buffer.from('x') });
    expect(autoTextValues(row, clients, {}).map((b) => b.toString('hex'))).toEqual(['43303030303031', 'a4fd', '78', ...Array(2).fill(Buffer.from('2020-01-01 08:00:00').toString('hex'))]);
    expect(autoTextValues(row, clients, { notes: 'cp950', client_code: 'utf8' }).map((b) => b.toString('hex'))).toEqual(['a4fd', ...Array(2).fill(Buffer.from('2020-01-01 08:00:00').toString('hex'))]);
  });
});

// ---------------------------------------------------------------------------------------------
describe("the fixture generator's legacy file converts exactly, batch by batch", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auto-encoding-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([7, 8])('seed %d: every text value is its row\'s one exact reading, and no row is held back', (seed) => {
    const file = path.join(dir, `seed${seed}.db`);
    generateLegacyDb({ path: file, seed, clients: 1500, drivers: 40, deliveries: 6000 });
    const db = new Database(file, { readonly: true });
    const problems: string[] = [];
    let ambiguousValues = 0;
    let utf8Rows = 0;
    let checked = 0;
    try {
      for (const legacyTable of ['clients', 'drivers', 'deliveries']) {
        const t = tableConfig(config, legacyTable);
        let cursor: Cursor = { ts: '', id: 0 };
        for (;;) {
          const page = readTimestampPage(db, t.mapping, cursor, t.batchSize);
          const table = tableEvidence(page.rows.map((row) => autoTextValues(row, t.mapping, t.textColumns)));
          for (const row of page.rows) {
            const values = autoTextValues(row, t.mapping, t.textColumns);
            // The premise: a row has one reading that is exact for all its values, UTF-8 or CP950.
            const asUtf8 = values.map(utf8OrNull);
            const asCp950 = values.map(cp950OrNull);
            const utf8Whole = asUtf8.every((v) => v !== null);
            const cp950Whole = asCp950.every((v) => v !== null);
            if (utf8Whole === cp950Whole && !(utf8Whole && asUtf8.every((v, i) => v === asCp950[i]))) {
              problems.push(`${legacyTable} ${row.id}: ${utf8Whole ? 'two different whole readings' : 'no whole reading'}`);
              continue;
            }
            if (utf8Whole && values.some((v) => !isAscii(v))) utf8Rows++;
            const expected = utf8Whole ? asUtf8 : asCp950;
            const hint = rowEncodingHint(values, eudc);
            values.forEach((v, i) => {
              if (asUtf8[i] !== null && asCp950[i] !== null && asUtf8[i] !== asCp950[i]) ambiguousValues++;
              const d = decodeLegacyText(v, 'auto', eudc, hint, table);
              checked++;
              if (!d.ok || d.value !== expected[i]) problems.push(`${legacyTable} ${row.id} ${v.toString('hex')}: ${JSON.stringify(d)}, expected ${expected[i]}`);
            });
          }
          const batch = convertBatch(t.mapping, t.textColumns, eudc, { rows: page.rows, deleted: [] });
          for (const h of batch.held) problems.push(`${legacyTable} ${h.legacyId} held back: ${h.reason}`);
          if (page.done) break;
          cursor = page.next;
        }
      }
    } finally {
      db.close();
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(checked).toBeGreaterThan(35_000);
    expect(utf8Rows).toBeGreaterThan(100); // the 2023-patch rows are there ...
    expect(ambiguousValues).toBeGreaterThan(0); // ... and some of their values CP950 reads too
  });
});
