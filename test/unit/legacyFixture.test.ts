import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import iconv from 'iconv-lite';
import { createLegacySchema, generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';

/*
 * The generated files are checked byte by byte, with expectations that do not come from the
 * generator or from src/encoding: CP950 bytes written out here (checked with Python's cp950
 * codec), EUDC codes read from config/eudc-map.json, and a small CP950 decoder of this file's
 * own (iconv-lite per character plus the map).
 */

const SCHEMA_FILE = path.resolve(__dirname, '../../config/legacy-schema.sql');
const CONTRACT_SCHEMA_FILE = path.resolve(__dirname, '../../../shared/contract/legacy-schema.sql');
const EUDC_FILE = path.resolve(__dirname, '../../config/eudc-map.json');

// python3 -c "print('大安區'.encode('cp950').hex())" and friends
const HEX = {
  大安區: 'a46aa677b0cf',
  上午: 'a457a4c8',
  下午: 'a455a4c8',
  分機: 'a4c0bef7',
  fullWidthSpace: 'a140',
};
const STATUS_CP950: Record<string, string> = {
  待配送: 'abddb074b065',
  已派車: 'a477aca3a8ae',
  已送達: 'a477b065b946',
  已取消: 'a477a8faaef8',
};
const STATUS_UTF8: Record<string, string> = {
  待配送: 'e5be85e9858de98081',
  已派車: 'e5b7b2e6b4bee8bb8a',
  已送達: 'e5b7b2e98081e98194',
  已取消: 'e5b7b2e58f96e6b688',
};

const eudcMap: Record<string, string> = (JSON.parse(fs.readFileSync(EUDC_FILE, 'utf8')) as { map: Record<string, string> }).map;
const eudcByCode = new Map(Object.entries(eudcMap).map(([hex, ch]) => [parseInt(hex, 16), ch]));

/** Two-byte codes (lead << 8 | trail) of CP950 bytes; throws on a broken sequence. */
function cp950Codes(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    if (b < 0x80) {
      i += 1;
      continue;
    }
    const t = bytes[i + 1];
    if (b < 0x81 || b > 0xfe || t === undefined || !((t >= 0x40 && t <= 0x7e) || (t >= 0xa1 && t <= 0xfe))) {
      throw new Error(`invalid CP950 at ${i}: ${bytes.toString('hex')}`);
    }
    out.push((b << 8) | t);
    i += 2;
  }
  return out;
}

function isEudcCode(code: number): boolean {
  const lead = code >> 8;
  return lead >= 0xfa || lead <= 0xa0 || (lead >= 0xc6 && lead <= 0xc8 && !(lead === 0xc6 && (code & 0xff) < 0xa1));
}

/** Test-side CP950 decoder: exact or throws. */
function decodeCp950(bytes: Buffer): string {
  const whole = iconv.decode(bytes, 'cp950');
  if (!/[\uFFFD\uE000-\uF8FF]/.test(whole)) return whole;
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    const code = (b << 8) | bytes[i + 1];
    const mapped = eudcByCode.get(code);
    const ch = mapped ?? iconv.decode(bytes.subarray(i, i + 2), 'cp950');
    if (ch.includes('\uFFFD') || [...ch].length !== 1) throw new Error(`undecodable CP950 code ${code.toString(16)} in ${bytes.toString('hex')}`);
    out += ch;
    i += 2;
  }
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function utf8OrNull(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

const isAscii = (b: Buffer) => {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80) return false;
  return true;
};

interface Cell {
  type: 'null' | 'integer' | 'real' | 'text' | 'blob';
  /** The exact bytes (CAST AS BLOB) of a TEXT-declared column; null for NULL and for INTEGER columns. */
  bytes: Buffer | null;
  /** The value of an INTEGER-declared column. */
  num: number | null;
}
type RawRow = Record<string, Cell>;

const TEXT_COLUMNS: Record<string, string[]> = {
  clients: ['client_code', 'invoice_title', 'short_name', 'address', 'contact_person', 'notes', 'district', 'created_at', 'updated_at'],
  drivers: ['employee_no', 'name', 'phone', 'familiar_areas', 'created_at', 'updated_at'],
  deliveries: ['delivery_date', 'status', 'notes', 'created_at', 'updated_at'],
};

/** Every row of a table, each column as its storage class and its exact bytes (or number). */
function rawRows(db: Database.Database, table: string): RawRow[] {
  const cols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[]).map((c) => ({
    name: c.name,
    text: c.type !== 'INTEGER',
  }));
  const sql = `SELECT ${cols.map((c) => `typeof(${c.name}), ${c.text ? `CAST(${c.name} AS BLOB)` : c.name}`).join(', ')} FROM ${table} ORDER BY id`;
  return (db.prepare(sql).raw().all() as unknown[][]).map((r) => {
    const row: RawRow = {};
    cols.forEach((c, k) => {
      const v = r[2 * k + 1];
      row[c.name] = {
        type: r[2 * k] as Cell['type'],
        bytes: c.text ? ((v as Buffer | null) ?? null) : null,
        num: c.text ? null : ((v as number | null) ?? null),
      };
    });
    return row;
  });
}

/** A row is a "2023 patch" row when its non-ASCII text is UTF-8; otherwise it is CP950. */
function rowForm(row: RawRow, table: string): 'utf8' | 'cp950' | 'ascii' | 'mixed' {
  let utf8 = 0;
  let cp950 = 0;
  for (const c of TEXT_COLUMNS[table]) {
    const cell = row[c];
    if (cell.type !== 'text' || cell.bytes === null || isAscii(cell.bytes)) continue;
    if (utf8OrNull(cell.bytes) !== null) utf8++;
    else cp950++;
  }
  if (utf8 && cp950) return 'mixed';
  return utf8 ? 'utf8' : cp950 ? 'cp950' : 'ascii';
}

/** Fails with the first few problems found (one expect per check, not one per row: keeps it fast). */
function expectNone(problems: string[]): void {
  expect(problems.slice(0, 10)).toEqual([]);
}

/** Decoded value of a text/blob cell in a row of the given form. */
function decodeCell(cell: Cell, form: string): string | null {
  if (cell.bytes === null) return null;
  if (form === 'utf8' && cell.type === 'text') {
    const s = utf8OrNull(cell.bytes);
    if (s === null) throw new Error('not UTF-8 in a UTF-8 row');
    return s;
  }
  return decodeCp950(cell.bytes);
}

/** 'YYYY-MM-DD HH:MM:SS' or the zh-TW form → comparable 'YYYY-MM-DD HH:MM:SS'. */
function normaliseTimestamp(text: string): { iso: string; zhTw: boolean } {
  let m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (m) return { iso: text, zhTw: false };
  m = /^(\d{4})\/(\d{1,2})\/(\d{1,2}) (上午|下午) (\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`unparseable timestamp '${text}'`);
  const h12 = Number(m[5]);
  if (h12 < 1 || h12 > 12) throw new Error(`bad 12-hour clock '${text}'`);
  const h = (h12 % 12) + (m[4] === '下午' ? 12 : 0);
  const p = (n: string | number) => String(n).padStart(2, '0');
  return { iso: `${m[1]}-${p(m[2])}-${p(m[3])} ${p(h)}:${m[6]}:${m[7]}`, zhTw: true };
}

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'legacy-fixture-'));
const tmp = (name: string) => path.join(tmpDir, name);

afterAll(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

/** Reads a whole file's rows once; most tests look at one bigger file. */
interface Loaded {
  rows: Record<string, RawRow[]>;
  forms: Record<string, ('utf8' | 'cp950' | 'ascii' | 'mixed')[]>;
}
function load(file: string): Loaded {
  const db = new Database(file, { readonly: true });
  try {
    const rows: Record<string, RawRow[]> = {};
    const forms: Loaded['forms'] = {};
    for (const t of Object.keys(TEXT_COLUMNS)) {
      rows[t] = rawRows(db, t);
      forms[t] = rows[t].map((r) => rowForm(r, t));
    }
    return { rows, forms };
  } finally {
    db.close();
  }
}

describe('legacyText', () => {
  it('gives CP950 bytes (EUDC characters as their codes), UTF-8 strings and BLOB bytes', () => {
    expect(Buffer.from(legacyText('大安區', 'cp950') as Buffer).toString('hex')).toBe(HEX.大安區);
    expect(Buffer.from(legacyText('大安區', 'blob') as Buffer).toString('hex')).toBe(HEX.大安區);
    expect(legacyText('大安區', 'utf8')).toBe('大安區');
    // 王 A4FD, 堃 = EUDC FA40, 明 A9FA
    expect(Buffer.from(legacyText('王堃明', 'cp950') as Buffer).toString('hex')).toBe('a4fdfa40a9fa');
    expect(Buffer.from(legacyText('　C000123 ', 'cp950') as Buffer).toString('hex')).toBe(`${HEX.fullWidthSpace}43303030313233` + '20');
  });

  it('refuses text CP950 and the EUDC map cannot hold, instead of writing ?', () => {
    expect(() => legacyText('王😀', 'cp950')).toThrow();
    expect(() => legacyText('鱻', 'blob')).toThrow(); // U+9C7B is not in CP950 either
    expect(() => legacyText('龜', 'blob')).not.toThrow(); // but this is
    expect(() => legacyText('\u4DB6', 'cp950')).toThrow(); // CJK ext. A, neither CP950 nor the map
  });

  it('CAST(? AS TEXT) stores the CP950 bytes unchanged with TEXT storage; a plain Buffer is a BLOB', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x TEXT)');
    const bytes = legacyText('大安區', 'cp950') as Buffer;
    db.prepare('INSERT INTO t VALUES (CAST(? AS TEXT))').run(bytes);
    db.prepare('INSERT INTO t VALUES (?)').run(bytes);
    db.prepare('INSERT INTO t VALUES (?)').run(legacyText('大安區', 'utf8'));
    const rows = db.prepare('SELECT typeof(x) AS t, CAST(x AS BLOB) AS b FROM t ORDER BY rowid').all() as { t: string; b: Buffer }[];
    expect(rows.map((r) => r.t)).toEqual(['text', 'blob', 'text']);
    expect(rows[0].b.toString('hex')).toBe(HEX.大安區);
    expect(rows[1].b.toString('hex')).toBe(HEX.大安區);
    expect(rows[2].b.toString('hex')).toBe(Buffer.from('大安區', 'utf8').toString('hex'));
    db.close();
  });
});

describe('generateLegacyDb', () => {
  const BIG = tmp('big.db');
  let big: Loaded;
  let bigSummary: ReturnType<typeof generateLegacyDb>;

  beforeAll(() => {
    bigSummary = generateLegacyDb({ path: BIG, seed: 7, clients: 2000, drivers: 40, deliveries: 12_000 });
    big = load(BIG);
  });

  it('reports what it wrote', () => {
    expect(bigSummary).toMatchObject({ path: BIG, clients: 2000, drivers: 40, deliveries: 12_000 });
    expect(bigSummary.seconds).toBeGreaterThan(0);
    expect(big.rows.clients).toHaveLength(2000);
    expect(big.rows.drivers).toHaveLength(40);
    expect(big.rows.deliveries).toHaveLength(12_000);
  });

  it('config/legacy-schema.sql is byte-identical to the shared contract', () => {
    expect(fs.readFileSync(SCHEMA_FILE).equals(fs.readFileSync(CONTRACT_SCHEMA_FILE))).toBe(true);
  });

  it('has exactly the schema of config/legacy-schema.sql', () => {
    const schemaText = fs.readFileSync(SCHEMA_FILE, 'utf8');
    const master = (db: Database.Database) =>
      db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all() as { sql: string | null }[];
    const reference = new Database(':memory:');
    reference.exec(schemaText);
    const generated = new Database(BIG, { readonly: true });
    const expected = master(reference);
    expect(master(generated)).toEqual(expected);
    expect(expected.filter((r) => r.sql !== null && r.sql.startsWith('CREATE TABLE')).length).toBe(4); // + sqlite_sequence
    expect(expected.filter((r) => r.sql !== null && r.sql.startsWith('CREATE INDEX')).length).toBe(4);
    for (const r of master(generated)) if (r.sql !== null && !r.sql.includes('sqlite_sequence')) expect(schemaText).toContain(r.sql);
    // createLegacySchema on its own gives the same
    const own = new Database(':memory:');
    createLegacySchema(own);
    expect(master(own)).toEqual(expected);
    for (const db of [reference, generated, own]) db.close();
  });

  it('stores CP950 text as TEXT whose raw bytes are the CP950 encoding', () => {
    const districts = big.rows.clients.map((r) => r.district).filter((c) => c.bytes !== null && c.bytes.toString('hex') === HEX.大安區);
    expect(districts.length).toBeGreaterThan(20);
    for (const c of districts) {
      expect(c.type).toBe('text');
      expect(utf8OrNull(c.bytes!)).toBeNull(); // not valid UTF-8: a UTF-8 reader would destroy it
    }
    const statuses = new Set(big.rows.deliveries.map((r) => `${r.status.type}:${r.status.bytes!.toString('hex')}`));
    const allowed = [...Object.values(STATUS_CP950), ...Object.values(STATUS_UTF8)].map((h) => `text:${h}`);
    for (const s of statuses) expect(allowed).toContain(s);
    for (const h of Object.values(STATUS_CP950)) expect(statuses).toContain(`text:${h}`);
  });

  it('decodes every text value exactly: no ?, no U+FFFD, no broken bytes, no mixed rows', () => {
    const problems: string[] = [];
    const replacement = Buffer.from('efbfbd', 'hex');
    let checked = 0;
    for (const t of Object.keys(TEXT_COLUMNS)) {
      big.rows[t].forEach((row, i) => {
        const form = big.forms[t][i];
        if (form === 'mixed') problems.push(`${t} row ${i + 1} mixes UTF-8 and CP950`);
        for (const c of TEXT_COLUMNS[t]) {
          const cell = row[c];
          if (cell.type === 'null') continue;
          const where = `${t} row ${i + 1} ${c} ${cell.bytes!.toString('hex')}`;
          if (cell.type !== 'text' && cell.type !== 'blob') problems.push(`${where}: ${cell.type}`);
          if (cell.bytes!.includes(0x3f) || cell.bytes!.includes(replacement)) problems.push(`${where}: ? or U+FFFD bytes`);
          try {
            if (/[?\uFFFD]/.test(decodeCell(cell, form)!)) problems.push(`${where}: ? or U+FFFD`);
            checked++;
          } catch (err) {
            problems.push(`${where}: ${(err as Error).message}`);
          }
        }
      });
    }
    expectNone(problems);
    expect(checked).toBeGreaterThan(50_000);
  });

  it('has about 3% UTF-8 "2023 patch" rows, whole rows, updated from 2023-03 on', () => {
    for (const t of ['clients', 'deliveries']) {
      const forms = big.forms[t];
      const utf8 = forms.filter((f) => f === 'utf8').length;
      expect(utf8 / forms.length).toBeGreaterThan(0.015);
      expect(utf8 / forms.length).toBeLessThan(0.05);
      const early = big.rows[t].filter((row, i) => forms[i] === 'utf8' && row.updated_at.bytes!.toString('latin1') < '2023-03-01');
      expect(early).toHaveLength(0);
    }
    const utf8Statuses = big.rows.deliveries.filter((r, i) => big.forms.deliveries[i] === 'utf8').map((r) => r.status.bytes!.toString('hex'));
    expect(utf8Statuses.length).toBeGreaterThan(0);
    expect(utf8Statuses.filter((h) => !Object.values(STATUS_UTF8).includes(h))).toEqual([]);
    // a UTF-8 row's text really is non-ASCII UTF-8 (CJK), e.g. its address
    const utf8Client = big.rows.clients.find((r, i) => big.forms.clients[i] === 'utf8' && r.address.bytes && !isAscii(r.address.bytes));
    expect(utf8OrNull(utf8Client!.address.bytes!)).toMatch(/[\u4e00-\u9fff]/);
  });

  it('has some notes as BLOBs of CP950 bytes (about 2%)', () => {
    for (const t of ['clients', 'deliveries']) {
      const blobs = big.rows[t].filter((r) => r.notes.type === 'blob');
      expect(blobs.length / big.rows[t].length).toBeGreaterThan(0.01);
      expect(blobs.length / big.rows[t].length).toBeLessThan(0.04);
      const notCp950 = blobs.filter((r) => utf8OrNull(r.notes.bytes!) !== null || !/[\u4e00-\u9fff]/.test(decodeCp950(r.notes.bytes!)));
      expect(notCp950).toHaveLength(0);
    }
    // the other table columns are never BLOBs
    const problems: string[] = [];
    for (const t of Object.keys(TEXT_COLUMNS)) {
      for (const r of big.rows[t]) for (const c of TEXT_COLUMNS[t]) if (c !== 'notes' && r[c].type === 'blob') problems.push(`${t}.${c}`);
    }
    expectNone(problems);
  });

  it('writes every EUDC code of eudc-map.json as raw bytes in person names, and no unknown one', () => {
    const seen = new Set<number>();
    const unknown: string[] = [];
    let clientsWithEudc = 0;
    const scan = (t: string, cols: string[]) =>
      big.rows[t].forEach((row, i) => {
        if (big.forms[t][i] === 'utf8') return;
        let has = false;
        for (const c of cols) {
          const b = row[c].bytes;
          if (b === null) continue;
          for (const code of cp950Codes(b)) {
            if (!isEudcCode(code)) continue;
            if (!eudcByCode.has(code)) unknown.push(code.toString(16));
            seen.add(code);
            has = true;
          }
        }
        if (has && t === 'clients') clientsWithEudc++;
      });
    scan('clients', ['contact_person', 'short_name']);
    scan('drivers', ['name']);
    expect(unknown).toEqual([]);
    expect([...seen].sort((a, b) => a - b).map((c) => c.toString(16).toUpperCase())).toEqual(Object.keys(eudcMap).sort());
    expect(clientsWithEudc / big.rows.clients.length).toBeGreaterThan(0.015);
    expect(clientsWithEudc / big.rows.clients.length).toBeLessThan(0.05);
    // the raw pair FA40 is there as bytes, e.g. in some contact text
    expect(big.rows.clients.some((r) => r.contact_person.bytes?.toString('hex').includes('fa40'))).toBe(true);
    // EUDC codes only in the person-name columns
    const elsewhere: string[] = [];
    for (const r of big.rows.clients) for (const c of ['address', 'invoice_title', 'district', 'notes']) {
      if (r[c].bytes && utf8OrNull(r[c].bytes!) === null && cp950Codes(r[c].bytes!).some(isEudcCode)) elsewhere.push(c);
    }
    expect(elsewhere).toEqual([]);
  });

  it('pads some values with ASCII spaces or U+3000 at either end', () => {
    const decoded: string[] = [];
    for (const [t, cols] of Object.entries({ clients: ['invoice_title', 'short_name', 'address', 'contact_person', 'district'], drivers: ['name', 'phone'] })) {
      big.rows[t].forEach((row, i) => {
        for (const c of cols) {
          const v = decodeCell(row[c], big.forms[t][i]);
          if (v) decoded.push(v);
        }
      });
    }
    const padded = decoded.filter((v) => /^[ \u3000]|[ \u3000]$/.test(v));
    expect(padded.some((v) => v.startsWith(' '))).toBe(true);
    expect(padded.some((v) => v.endsWith(' '))).toBe(true);
    expect(padded.some((v) => v.startsWith('\u3000'))).toBe(true);
    expect(padded.some((v) => v.endsWith('\u3000'))).toBe(true);
    expect(padded.length / decoded.length).toBeGreaterThan(0.01);
    expect(padded.length / decoded.length).toBeLessThan(0.06);
    // and as bytes, in CP950 values: A1 40 (U+3000) as the first / last character, 0x20 at either end
    const cp950Values = big.rows.clients.flatMap((r, i) =>
      big.forms.clients[i] === 'cp950' ? [r.short_name, r.address, r.contact_person, r.invoice_title].flatMap((c) => (c.bytes ? [c.bytes] : [])) : [],
    );
    const codes = cp950Values.map(cp950Codes);
    expect(codes.some((c) => c[0] === 0xa140 && cp950Values[codes.indexOf(c)].toString('hex').startsWith(HEX.fullWidthSpace))).toBe(true);
    expect(codes.some((c) => c[c.length - 1] === 0xa140 && cp950Values[codes.indexOf(c)].toString('hex').endsWith(HEX.fullWidthSpace))).toBe(true);
    expect(cp950Values.some((b) => b[0] === 0x20 && !isAscii(b))).toBe(true);
    expect(cp950Values.some((b) => b[b.length - 1] === 0x20 && !isAscii(b))).toBe(true);
  });

  it('writes created_at before 2015 in the zh-TW 上午/下午 form (CP950), updated_at always ISO and not earlier', () => {
    const halves = new Set<string>();
    const problems: string[] = [];
    const noonMidnight: string[] = [];
    let zhTwCount = 0;
    for (const t of Object.keys(TEXT_COLUMNS)) {
      big.rows[t].forEach((row, i) => {
        const created = row.created_at;
        const updated = row.updated_at.bytes!.toString('latin1');
        const where = `${t} row ${i + 1}`;
        if (created.type !== 'text' || row.updated_at.type !== 'text') problems.push(`${where}: timestamps not TEXT`);
        try {
          const text = decodeCell(created, big.forms[t][i])!;
          const { iso, zhTw } = normaliseTimestamp(text);
          if (zhTw) {
            zhTwCount++;
            if (iso >= '2015-01-01 00:00:00') problems.push(`${where}: zh-TW created_at '${text}' in 2015 or later`);
            const hex = created.bytes!.toString('hex');
            if (big.forms[t][i] === 'cp950') {
              const half = hex.includes(HEX.上午) ? '上午' : hex.includes(HEX.下午) ? '下午' : 'none';
              halves.add(half);
              if (text.includes(' 12:')) noonMidnight.push(`${half} ${iso.slice(11, 13)}`);
            }
          } else if (iso < '2015-01-01 00:00:00') problems.push(`${where}: ISO created_at '${text}' before 2015`);
          if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(updated)) problems.push(`${where}: updated_at '${updated}'`);
          if (updated < iso) problems.push(`${where}: updated_at ${updated} before created_at ${iso}`);
          if (updated > '2024-01-01 00:00:00') problems.push(`${where}: updated_at ${updated} after the base date`);
        } catch (err) {
          problems.push(`${where}: ${(err as Error).message}`);
        }
      });
    }
    expectNone(problems);
    expect(zhTwCount).toBeGreaterThan(1000);
    // CP950 bytes of both halves of the day, and the 12 o'clock cases: 上午 12:xx = 00:xx, 下午 12:xx = 12:xx
    expect([...halves].sort()).toEqual(['上午', '下午']);
    expect(new Set(noonMidnight)).toEqual(new Set(['上午 00', '下午 12']));
  });

  it('has a burst of more than 1,000 deliveries sharing one updated_at second', () => {
    const counts = new Map<string, number>();
    for (const r of big.rows.deliveries) {
      const k = r.updated_at.bytes!.toString('latin1');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(Math.max(...counts.values())).toBeGreaterThan(1000);
  });

  it('keeps references, statuses, quantities and amounts consistent', () => {
    const clientIds = new Set(big.rows.clients.map((r) => r.id.num));
    const driverIds = new Set(big.rows.drivers.map((r) => r.id.num));
    const kg = [50, 20, 16, 10, 4];
    let nullDriver = 0;
    const problems: string[] = [];
    const statuses = new Set<string>();
    big.rows.deliveries.forEach((r, i) => {
      const where = `delivery ${i + 1}`;
      if (!clientIds.has(r.client_id.num)) problems.push(`${where}: client_id`);
      const status = decodeCell(r.status, big.forms.deliveries[i])!;
      statuses.add(status);
      if (r.driver_id.type === 'null') {
        nullDriver++;
        if (status !== '待配送') problems.push(`${where}: no driver while ${status}`);
      } else if (!driverIds.has(r.driver_id.num!)) problems.push(`${where}: driver_id`);
      if (!/^20\d\d-\d\d-\d\d$/.test(r.delivery_date.bytes!.toString('latin1'))) problems.push(`${where}: delivery_date`);
      const cols = ['cylinder_50kg', 'cylinder_20kg', 'cylinder_16kg', 'cylinder_10kg', 'cylinder_4kg'];
      if (cols.some((c) => r[c].type !== 'integer')) problems.push(`${where}: quantity not INTEGER`);
      const q = cols.map((c) => r[c].num!);
      const totalKg = q.reduce((s, n, k) => s + n * kg[k], 0);
      if (Math.min(...q) < 0 || totalKg <= 0) problems.push(`${where}: quantities ${q.join(',')}`);
      if (r.amount.type === 'null') {
        if (status !== '待配送') problems.push(`${where}: no amount while ${status}`);
      } else {
        const perKg = r.amount.num! / totalKg;
        if (!(perKg > 20 && perKg < 50)) problems.push(`${where}: ${perKg} NTD/kg`);
      }
    });
    expectNone(problems);
    expect([...statuses].sort()).toEqual(['已取消', '已派車', '已送達', '待配送'].sort());
    expect(nullDriver).toBeGreaterThan(0);
    const zeros = big.rows.deliveries.filter((r) => r.cylinder_50kg.num === 0).length;
    expect(zeros / big.rows.deliveries.length).toBeGreaterThan(0.7); // many zeros
  });

  it('writes client codes C + 6 digits and employee numbers D + 4 digits, unique', () => {
    const codes = big.rows.clients.map((r) => r.client_code.bytes!.toString('latin1'));
    expect(codes.filter((c) => !/^C\d{6}$/.test(c))).toEqual([]);
    expect(new Set(codes).size).toBe(codes.length);
    const nos = big.rows.drivers.map((r) => r.employee_no.bytes!.toString('latin1'));
    expect(nos.filter((n) => !/^D\d{4}$/.test(n))).toEqual([]);
    expect(new Set(nos).size).toBe(nos.length);
  });

  it('writes contact texts in all the phone formats of the contract', () => {
    const contacts = big.rows.clients.map((r, i) => decodeCell(r.contact_person, big.forms.clients[i]) ?? '');
    const has = (re: RegExp) => contacts.some((c) => re.test(c));
    expect(has(/^\S+ 09\d\d-\d{3}-\d{3}$/)).toBe(true); // 王先生 0912-345-678
    expect(has(/(^|\D)09\d\d \d{3} \d{3}(\D|$)/)).toBe(true); // 0912 345 678
    expect(has(/\(0\d{1,3}\)\d{3,4}-\d{4}分機\d+/)).toBe(true); // 林小姐(02)2345-6789分機12
    expect(has(/0\d-\d{4}-\d{4} ?\/ ?09\d\d-\d{3}-\d{3}/)).toBe(true); // 02-2345-6789 / 0933-111-222
    expect(has(/\+886 9\d\d \d{3} \d{3}/)).toBe(true); // +886 912 345 678
    expect(has(/\+886\(0\)2 \d{4} \d{4}/)).toBe(true); // +886(0)2 2345 6789
    expect(has(/０９[０-９]{2}－[０-９]{3}－[０-９]{3}/)).toBe(true); // full width
    expect(has(/(^|[^\d-])0\d\d-\d{6}(\D|$)/)).toBe(true); // 037-123456
    expect(has(/電話：0\d-\d{7}(\D|$)/)).toBe(true); // 電話：07-3456789
    expect(has(/統編\d{8}$/)).toBe(true); // no phone
    expect(has(/^[^\d]+$/)).toBe(true); // a name only
    expect(has(/09\d\d-\d{3}-\d{4}/)).toBe(true); // 0912-345-6789, not a phone
    // the same, as raw CP950 bytes: 分機 = A4C0 BEF7 after ASCII digits
    expect(big.rows.clients.some((r) => /\d\xa4\xc0\xbe\xf7\d/.test(r.contact_person.bytes?.toString('latin1') ?? ''))).toBe(true);
    expect(HEX.分機).toBe('a4c0bef7');
  });

  it("separates drivers' familiar_areas by 、 , ， / or spaces, sometimes with a district twice", () => {
    const areas = big.rows.drivers.map((r, i) => decodeCell(r.familiar_areas, big.forms.drivers[i]) ?? '');
    const all = areas.join('\n');
    for (const sep of ['、', ',', '，', '/']) expect(all).toContain(sep);
    expect(areas.some((a) => /區 +\S/.test(a))).toBe(true);
    const parts = areas.map((a) => a.split(/[、,，/\s\u3000]+/).filter(Boolean));
    expect(parts.some((p) => new Set(p).size < p.length)).toBe(true);
    expect(parts.flat().filter((d) => !/^\S{1,3}區$/.test(d))).toEqual([]);
    const phones = big.rows.drivers.map((r, i) => decodeCell(r.phone, big.forms.drivers[i]) ?? '');
    expect(phones.filter((p) => /09\d\d/.test(p.normalize('NFKC'))).length).toBeGreaterThan(big.rows.drivers.length / 2);
  });

  it('is deterministic: same seed, same rows and bytes; another seed, other rows', () => {
    const dump = (file: string) => {
      const db = new Database(file, { readonly: true });
      const out = Object.keys(TEXT_COLUMNS)
        .map((t) => rawRows(db, t).map((r) => Object.entries(r).map(([c, v]) => `${c}:${v.type}:${v.bytes?.toString('hex') ?? v.num}`).join('|')).join('\n'))
        .join('\n');
      db.close();
      return out;
    };
    const a = tmp('seed11a.db');
    const b = tmp('seed11b.db');
    const c = tmp('seed12.db');
    generateLegacyDb({ path: a, seed: 11, deliveries: 3000 });
    generateLegacyDb({ path: b, seed: 11, deliveries: 3000 });
    generateLegacyDb({ path: c, seed: 12, deliveries: 3000 });
    const da = dump(a);
    expect(da.length).toBeGreaterThan(100_000);
    expect(dump(b)).toBe(da);
    expect(dump(c)).not.toBe(da);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
  });

  it('uses the defaults, refuses to overwrite unless asked, and leaves the requested journal mode', () => {
    const file = tmp('defaults.db');
    expect(generateLegacyDb({ path: file })).toMatchObject({ clients: 200, drivers: 20, deliveries: 2000 });
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.prepare("SELECT (SELECT count(*) FROM clients) || '/' || (SELECT count(*) FROM drivers) || '/' || (SELECT count(*) FROM deliveries)").pluck().get()).toBe('200/20/2000');
    db.close();
    expect(() => generateLegacyDb({ path: file, deliveries: 10 })).toThrow(/exists/);
    generateLegacyDb({ path: file, overwrite: true, clients: 5, drivers: 2, deliveries: 10, journalMode: 'wal' });
    const wal = new Database(file);
    expect(wal.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(wal.prepare('SELECT count(*) FROM deliveries').pluck().get()).toBe(10);
    wal.close();
  });
});
