/**
 * CP950 (Windows Big5) + site EUDC map ↔ Unicode (src/encoding/cp950.ts, src/encoding/eudc.ts).
 *
 * Contract: shared/contract/new-system.md rule 1 and "Rules, new to legacy" (text that cannot be
 * decoded / encoded exactly is refused with a reason, never '?' or U+FFFD), legacy-schema.sql
 * (CP950 text, EUDC lead bytes FA-FE, UTF-8 rows of the 2023 patch, ASCII identical everywhere).
 *
 * Python's cp950 codec is used as an independent oracle (spawnSync python3).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  decodeCp950,
  decodeLegacyText,
  decodeUtf8Strict,
  encodeCp950,
  rowEncodingHint,
  tableEvidence,
  type Decoded,
  type Encoded,
  type TableEvidence,
  type TextEncodingMode,
} from '../../src/encoding/cp950';
import type { RawRow } from '../../src/capture/rawRow';
import { keepUnchanged, legacyRefusal, type LegacyValue, type LegacyWrite } from '../../src/convert/toLegacy';
import { loadLegacyEnv } from '../../src/config/env';
import { DEFAULT_EUDC_MAP_PATH, loadEudcMap, parseEudcMap, type EudcMap } from '../../src/encoding/eudc';

const MAP_FILE = path.resolve(__dirname, '../../config/eudc-map.json');
const mapJson = JSON.parse(readFileSync(MAP_FILE, 'utf8')) as { map: Record<string, string> };
const MAP_ENTRIES: Array<[string, string]> = Object.entries(mapJson.map).map(([k, v]) => [k.toUpperCase(), v]);
const eudc: EudcMap = loadEudcMap(MAP_FILE);

const MODES: TextEncodingMode[] = ['auto', 'cp950', 'utf8'];

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const cat = (...parts: Array<Buffer | string>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
const toHex = (b: Buffer): string => b.toString('hex').toUpperCase();

function value(d: Decoded): string {
  if (!d.ok) throw new Error(`expected a decoded value, got refusal: ${d.reason}`);
  return d.value;
}
function reason(d: Decoded | Encoded): string {
  if (d.ok) throw new Error(`expected a refusal, got ${JSON.stringify('value' in d ? d.value : toHex(d.bytes))}`);
  return d.reason;
}
function bytes(e: Encoded): string {
  if (!e.ok) throw new Error(`expected bytes, got refusal: ${e.reason}`);
  return toHex(e.bytes);
}
/** A refusal never carries a substituted character. */
function expectCleanReason(r: string): void {
  expect(r).not.toContain('\uFFFD');
  expect(r.length).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------
describe('EUDC map file', () => {
  it('is the file the code loads by default and holds codes in the Big5 user-defined area', () => {
    expect(path.resolve(DEFAULT_EUDC_MAP_PATH)).toBe(MAP_FILE);
    expect(MAP_ENTRIES.length).toBeGreaterThan(0);
    for (const [code, ch] of MAP_ENTRIES) {
      expect(code).toMatch(/^F[A-E][0-9A-F]{2}$/);
      expect([...ch]).toHaveLength(1);
    }
  });

  it('is the one EUDC_MAP_PATH names, read with the rest of the settings', () => {
    const base = { LEGACY_DB_PATH: '/srv/legacy/luckygas.db', DATABASE_URL: 'postgresql://u@db/luckygas', REDIS_URL: 'redis://cache:6379', TEMPORAL_ADDRESS: 'temporal:7233' };
    expect(path.resolve(loadLegacyEnv(base).EUDC_MAP_PATH)).toBe(MAP_FILE);
    expect(loadLegacyEnv({ ...base, EUDC_MAP_PATH: '/etc/luckygas/eudc-map.json' }).EUDC_MAP_PATH).toBe('/etc/luckygas/eudc-map.json');
  });

  it('parseEudcMap builds both directions and rejects malformed files', () => {
    const m = parseEudcMap({ map: { FA50: '甲', fb41: '𠀀' } });
    expect(m.toChar.get(0xfa50)).toBe('甲');
    expect(m.toChar.get(0xfb41)).toBe('𠀀');
    expect(m.toCode.get('𠀀')).toBe(0xfb41);
    expect(() => parseEudcMap({ map: { FA5: '甲' } })).toThrow(/4 hex digits/);
    expect(() => parseEudcMap({ map: { FA50: '甲乙' } })).toThrow(/one character/);
    expect(() => parseEudcMap({})).toThrow();
    expect(() => loadEudcMap('/nonexistent/eudc-map.json')).toThrow(/cannot read the EUDC map/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('EUDC codes of the map', () => {
  describe.each(MAP_ENTRIES)('%s ↔ %s', (code, ch) => {
    it('decodes to its character in cp950 and auto mode, alone and between other text', () => {
      expect(value(decodeCp950(hex(code), eudc))).toBe(ch);
      expect(value(decodeLegacyText(hex(code), 'cp950', eudc))).toBe(ch);
      expect(value(decodeLegacyText(hex(code), 'auto', eudc))).toBe(ch);
      // 王 (A4FD) <code> 明 (A9FA), with ASCII around
      const row = cat('x', hex('A4FD'), hex(code), hex('A9FA'), ' 1');
      expect(value(decodeCp950(row, eudc))).toBe(`x王${ch}明 1`);
      expect(value(decodeLegacyText(row, 'auto', eudc))).toBe(`x王${ch}明 1`);
    });

    it('encodes back to its 2 bytes, alone and between other text', () => {
      expect(bytes(encodeCp950(ch, eudc))).toBe(code);
      expect(bytes(encodeCp950(`x王${ch}明 1`, eudc))).toBe(`78A4FD${code}A9FA2031`);
    });
  });

  it('all map codes in one value decode and encode together', () => {
    const raw = Buffer.concat(MAP_ENTRIES.map(([code]) => hex(code)));
    const text = MAP_ENTRIES.map(([, ch]) => ch).join('');
    expect(value(decodeCp950(raw, eudc))).toBe(text);
    expect(bytes(encodeCp950(text, eudc))).toBe(toHex(raw));
  });

  it('a long value (hundreds of UTF-16 units, astral EUDC characters among them) decodes exactly', () => {
    // 王 A4FD, 明 A9FA, 𡘙 FA49 (the map's, two UTF-16 units): 200 times over, 1,400 units.
    const raw = hex('78A4FDFA49A9FA2031'.repeat(200));
    expect(value(decodeCp950(raw, eudc))).toBe('x王𡘙明 1'.repeat(200));
  });

  it('astral EUDC characters (two UTF-16 units) encode to their codes', () => {
    const astral = MAP_ENTRIES.filter(([, ch]) => ch.codePointAt(0)! > 0xffff);
    expect(astral.map(([, ch]) => ch)).toEqual(expect.arrayContaining(['𡘙', '𨭌', '𥕢', '𠀾']));
    for (const [code, ch] of astral) {
      expect(ch.length).toBe(2);
      expect(bytes(encodeCp950(ch, eudc))).toBe(code);
      expect(bytes(encodeCp950(`林${ch}${ch}`, eudc))).toBe(`AA4C${code}${code}`);
    }
    expect(bytes(encodeCp950('𡘙𨭌𥕢𠀾', eudc))).toBe('FA49FA4AFA4BFA4F');
  });

  it('the map, not iconv-lite, gives EUDC codes their meaning', () => {
    // With another map, FA40 means something else and FA50 becomes known.
    const other = parseEudcMap({ map: { FA40: '甲', FA50: '乙' } });
    expect(value(decodeCp950(hex('FA40FA50'), other))).toBe('甲乙');
    expect(bytes(encodeCp950('甲乙', other))).not.toBe('FA40FA50'); // 甲 and 乙 are ordinary CP950
    expect(reason(encodeCp950('堃', other))).toContain('堃');
    // Without a map no EUDC code decodes.
    const none = parseEudcMap({ map: {} });
    expect(reason(decodeCp950(hex('FA40'), none))).toMatch(/FA40/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('EUDC codes not in the map are refused with the code named', () => {
  const UNKNOWN = ['FA50', 'FA7E', 'FAA1', 'FB40', 'FDFE', 'FE40', 'FEFE'];
  it.each(UNKNOWN)('%s', (code) => {
    expect(eudc.toChar.has(parseInt(code, 16))).toBe(false);
    for (const raw of [hex(code), cat('ab', hex('A4FD'), hex(code), hex('A9FA'))]) {
      for (const d of [decodeCp950(raw, eudc), decodeLegacyText(raw, 'cp950', eudc), decodeLegacyText(raw, 'auto', eudc)]) {
        const r = reason(d);
        expectCleanReason(r);
        expect(r).toContain(code);
        expect(r).not.toMatch(/\?/);
      }
    }
    expect(reason(decodeCp950(cat('ab', hex('A4FD'), hex(code)), eudc))).toMatch(/\boffset 4\b/);
  });

  it('the other Windows CP950 user-defined ranges (8140-A0FE, C6A1-C8FE) are refused too', () => {
    for (const code of ['8140', '8E40', 'A0FE', 'C6A1', 'C7FC', 'C8A1', 'C8FE']) {
      const r = reason(decodeCp950(hex(code), eudc));
      expectCleanReason(r);
      expect(r).toContain(code);
      expect(r).toMatch(/EUDC/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('invalid CP950 bytes are refused with the offset named', () => {
  const CASES: Array<[string, Buffer, number, string]> = [
    ['0x80 alone', hex('80'), 0, '80'],
    ['0xFF alone', hex('FF'), 0, 'FF'],
    ['0x80 after ASCII', cat('AB', hex('80'), 'C'), 2, '80'],
    ['0xFF after a character', cat(hex('A4A4'), hex('FF'), 'x'), 2, 'FF'],
    ['lone lead byte at the end', hex('A4'), 0, 'A4'],
    ['lead byte at the end after text', cat('abc', hex('A4A4'), hex('B1')), 5, 'B1'],
    ['lead byte at the end after EUDC', cat(hex('FA40'), hex('FA')), 2, 'FA'],
    ['trail byte 0x0A', cat(hex('A4'), '\n'), 0, 'A40A'],
    ['trail byte 0x20 (space)', cat('z', hex('A4'), ' x'), 1, 'A420'],
    ['trail byte 0x3F', cat(hex('A4A4A4'), '?'), 2, 'A43F'],
    ['trail byte 0x7F', cat(hex('B0'), '\x7f'), 0, 'B07F'],
    ['trail byte 0x80', hex('A480'), 0, 'A480'],
    ['trail byte 0xA0', cat('12', hex('A4A0')), 2, 'A4A0'],
    ['trail byte 0xFF', hex('A4A4 A4FF'), 2, 'A4FF'],
    ['undefined code A3C0', cat('x', hex('A3C0')), 1, 'A3C0'],
    ['undefined code C87E', hex('C87E'), 0, 'C87E'],
  ];

  it.each(CASES)('%s', (_name, raw, offset, named) => {
    for (const d of [decodeCp950(raw, eudc), decodeLegacyText(raw, 'cp950', eudc), decodeLegacyText(raw, 'auto', eudc)]) {
      const r = reason(d);
      expectCleanReason(r);
      expect(r).toMatch(new RegExp(`\\boffset ${offset}\\b`));
      expect(r.toUpperCase()).toContain(named);
    }
  });

  it('the first error is the one reported', () => {
    const r = reason(decodeCp950(cat('ok', hex('A4A4'), hex('80'), hex('FA50'), hex('A4')), eudc));
    expect(r).toMatch(/\boffset 4\b/);
    expect(r).not.toContain('FA50');
  });
});

// ---------------------------------------------------------------------------------------------
describe('ordinary CP950 text', () => {
  // Expected bytes checked against Python's cp950 codec.
  const KNOWN: Array<[string, string]> = [
    ['王', 'A4FD'],
    ['中文', 'A4A4A4E5'],
    ['一', 'A440'],
    ['台北市', 'A578A55FA5AB'],
    ['王小明', 'A4FDA470A9FA'],
    ['待配送', 'ABDDB074B065'],
    ['已派車', 'A477ACA3A8AE'],
    ['已送達', 'A477B065B946'],
    ['已取消', 'A477A8FAAEF8'],
    ['上午', 'A457A4C8'],
    ['下午', 'A455A4C8'],
    ['\u3000', 'A140'],
    ['ＡＢＣ', 'A2CFA2D0A2D1'],
    ['０１２', 'A2AFA2B0A2B1'],
    ['，、：～', 'A141A142A147A1E3'],
    ['€', 'A3E1'],
    ['═', 'A2A4'],
    ['╔', 'F9DD'],
    ['十', 'A451'],
    ['卅', 'A4CA'],
    ['十全', 'A451A5FE'],
  ];
  it.each(KNOWN)('%s ↔ %s', (text, code) => {
    expect(bytes(encodeCp950(text, eudc))).toBe(code);
    expect(value(decodeCp950(hex(code), eudc))).toBe(text);
    expect(value(decodeLegacyText(hex(code), 'cp950', eudc))).toBe(text);
    expect(value(decodeLegacyText(hex(code), 'auto', eudc))).toBe(text);
  });

  it('both CP950 codes of 十 and 卅 decode; they encode to the hanzi code Windows writes', () => {
    expect(value(decodeCp950(hex('A2CC'), eudc))).toBe('十');
    expect(value(decodeCp950(hex('A2CE'), eudc))).toBe('卅');
    expect(bytes(encodeCp950('上午十點前送達', eudc))).toBe('A457A4C8A451C249AB65B065B946');
    expect(bytes(encodeCp950('卅十', eudc))).toBe('A4CAA451');
  });

  it.each([
    '台北市大安區復興南路一段100號5樓之3',
    '林小姐(02)2345-6789分機12',
    '陳太太 02-2345-6789 / 0933-111-222',
    '　王大明　',
    '大安區、信義區，中山區/松山區',
    '2014/3/5 上午 12:05:09',
    '瓶身生鏽已更換；漏氣檢查正常！',
    '＄１２０，０００元',
    '上午十點前送達，空瓶收回',
    '王堃與林𡘙',
  ])('round-trips %s', (text) => {
    const enc = encodeCp950(text, eudc);
    const b = Buffer.from(bytes(enc), 'hex');
    expect(b.includes(0x3f)).toBe(text.includes('?'));
    expect(value(decodeCp950(b, eudc))).toBe(text);
    expect(value(decodeLegacyText(b, 'cp950', eudc))).toBe(text);
    expect(value(decodeLegacyText(b, 'auto', eudc))).toBe(text);
  });

  it('the empty value and a literal ? are exact', () => {
    expect(bytes(encodeCp950('', eudc))).toBe('');
    expect(value(decodeCp950(Buffer.alloc(0), eudc))).toBe('');
    expect(bytes(encodeCp950('a?b', eudc))).toBe('613F62');
    expect(bytes(encodeCp950('中?', eudc))).toBe('A4A43F');
  });
});

// ---------------------------------------------------------------------------------------------
describe('ASCII is identical in every mode', () => {
  const ALL_ASCII = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
  it.each(['C000123', 'D0042', '2024-01-01 08:00:00', 'Hello, world! 0912-345-678 ?', '', ALL_ASCII.toString('latin1')])(
    '%j',
    (text) => {
      const raw = Buffer.from(text, 'latin1');
      for (const mode of MODES) expect(value(decodeLegacyText(raw, mode, eudc))).toBe(text);
      expect(value(decodeCp950(raw, eudc))).toBe(text);
      expect(bytes(encodeCp950(text, eudc))).toBe(toHex(raw));
    },
  );
});

// ---------------------------------------------------------------------------------------------
describe('encodeCp950 refuses what CP950 and the map cannot hold', () => {
  const REFUSED: Array<[string, string]> = [
    ['😀', 'U+1F600'],
    ['𠮷', 'U+20BB7'],
    ['한', 'U+D55C'],
    ['ヾ', 'U+30FE'], // ETEN kana: not Windows CP950
    ['ж', 'U+0436'],
    ['•', 'U+2022'], // Python: one-way best fit to A145 (which decodes as ‧)
    ['¢', 'U+00A2'], // Python: one-way best fit to A246 (which decodes as ￠)
    ['é', 'U+00E9'],
    ['\uFFFD', 'U+FFFD'],
  ];
  it.each(REFUSED)('%s (%s)', (ch, cp) => {
    expect(eudc.toCode.has(ch)).toBe(false);
    for (const text of [ch, `王先生${ch}`, `${ch}堃`, `堃ab${ch}cd`]) {
      const r = reason(encodeCp950(text, eudc));
      expect(r).toContain(ch);
      expect(r).toContain(cp);
    }
  });

  it('a refusal is whole: nothing partial, no ?', () => {
    const e = encodeCp950('已送達😀', eudc);
    expect(e.ok).toBe(false);
    expect('bytes' in e).toBe(false);
  });

  it('names the first character it cannot encode', () => {
    const r = reason(encodeCp950('王𡘙한😀', eudc));
    expect(r).toContain('한');
    expect(r).not.toContain('😀');
  });

  it('a lone surrogate is refused', () => {
    expect(reason(encodeCp950('a\uD842b', eudc))).toContain('U+D842');
  });
});

// ---------------------------------------------------------------------------------------------
describe("'utf8' mode", () => {
  it.each(['王小明', '台北市大安區', '堃', '𡘙', '한국', '😀', 'ヾ', '\u3000ＡＢＣ\u3000'])('decodes valid UTF-8 %s', (text) => {
    expect(value(decodeLegacyText(Buffer.from(text, 'utf8'), 'utf8', eudc))).toBe(text);
  });

  const INVALID: Array<[string, Buffer, number]> = [
    ['CP950 bytes of 中', hex('A4A4'), 0],
    ['CP950 bytes after ASCII', cat('ab', hex('A4FDA470A9FA')), 2],
    ['truncated 3-byte sequence', cat('ab', hex('E4B8')), 2],
    ['truncated 4-byte sequence', cat(Buffer.from('王', 'utf8'), hex('F0A198')), 3],
    ['overlong encoding', hex('C0AF'), 0],
    ['UTF-16 surrogate', cat('x', hex('EDA080')), 1],
    ['byte 0xFF', cat('xyz', hex('FF')), 3],
    ['lone continuation byte', cat(Buffer.from('中', 'utf8'), hex('80')), 3],
    ['above U+10FFFF', hex('F4908080'), 0],
    ['EUDC code FA40', hex('FA40'), 0],
  ];
  it.each(INVALID)('refuses %s, naming the offset', (_name, raw, offset) => {
    expect(decodeUtf8Strict(raw)).toBeNull();
    const r = reason(decodeLegacyText(raw, 'utf8', eudc));
    expectCleanReason(r);
    expect(r).toMatch(new RegExp(`\\boffset ${offset}\\b`));
  });
});

// ---------------------------------------------------------------------------------------------
describe("'auto' mode tells UTF-8 rows from CP950 rows", () => {
  it.each(['王小明', '台北市大安區復興南路一段100號', '林小姐(02)2345-6789', '王堃', '林𡘙', '已送達', '2014/3/5 上午 12:05:09', '並壢'])(
    'a UTF-8 row %s is UTF-8',
    (text) => {
      expect(value(decodeLegacyText(Buffer.from(text, 'utf8'), 'auto', eudc))).toBe(text);
    },
  );

  it('a UTF-8 row that is also valid CP950 (並壢 = 銝血ㄑ) stays UTF-8', () => {
    const raw = Buffer.from('並壢', 'utf8');
    expect(value(decodeCp950(raw, eudc))).toBe('銝血ㄑ'); // the premise: both readings exist
    expect(value(decodeLegacyText(raw, 'auto', eudc))).toBe('並壢');
  });

  it.each(['한국', '😀 0912345678', 'ヾ', '𠮷野家'])('a UTF-8 row outside CP950 (%s) is UTF-8', (text) => {
    expect(value(decodeLegacyText(Buffer.from(text, 'utf8'), 'auto', eudc))).toBe(text);
  });

  it.each([
    ['王小明', 'A4FDA470A9FA'],
    ['王堃', 'A4FDFA40'],
    ['已送達', 'A477B065B946'],
  ])('a CP950 row %s that is not UTF-8 is CP950', (text, code) => {
    expect(decodeUtf8Strict(hex(code))).toBeNull();
    expect(value(decodeLegacyText(hex(code), 'auto', eudc))).toBe(text);
  });

  // Real Big5 text whose bytes are also valid UTF-8. `asUtf8` is what a UTF-8 reading gives.
  const AMBIGUOUS: Array<[string, string, string]> = [
    // lead C2-DF + trail A1-BF: 2-byte UTF-8 (Latin / Greek / Cyrillic)
    ['蘇', 'C4AC', 'Ĭ'],
    ['羅', 'C3B9', 'ù'],
    ['簡', 'C2B2', '²'],
    ['警覺', 'C4B5C4B1', 'ĵı'],
    ['羅 0912345678', 'C3B92030393132333435363738', 'ù 0912345678'],
    // ... whose UTF-8 reading is a symbol CP950 also has (§ A1B1, ° A258, · A150)
    ['禮', 'C2A7', '§'],
    ['簞', 'C2B0', '°'],
    ['繚', 'C2B7', '·'],
    // lead F0-F3 + trail A1-BF, then a character A1-BF/A1-BF: one 4-byte UTF-8 character
    ['騏中', 'F1AFA4A4', '\u{6F924}'],
    ['糬店', 'F2ADA9B1', '\u{ADA71}'],
    // E0-EF lead: 3-byte UTF-8 characters (CJK Ext A / URO)
    ['蓁芸中', 'E3B8AAE5A4A4', '㸪夤'],
  ];
  it.each(AMBIGUOUS)('the CP950 row %s (%s) is CP950 even when it is valid UTF-8', (text, code, asUtf8) => {
    const raw = hex(code);
    expect(bytes(encodeCp950(text, eudc))).toBe(code);
    expect(decodeUtf8Strict(raw)).toBe(asUtf8); // the premise: the bytes are valid UTF-8
    expect(value(decodeLegacyText(raw, 'auto', eudc))).toBe(text);
    expect(value(decodeLegacyText(raw, 'cp950', eudc))).toBe(text);
  });

  it('a value only UTF-8 can read is UTF-8, even with Latin letters (Straße: C3 9F is no CP950 code)', () => {
    const raw = Buffer.from('Straße 5', 'utf8');
    expect(reason(decodeCp950(raw, eudc))).toMatch(/\boffset 4\b/);
    expect(value(decodeLegacyText(raw, 'auto', eudc))).toBe('Straße 5');
  });

  it('CP950 bytes with an unknown EUDC code are refused in auto mode, not read as UTF-8', () => {
    const r = reason(decodeLegacyText(cat(hex('A4FD'), hex('FA50')), 'auto', eudc));
    expect(r).toContain('FA50');
  });
});

// ---------------------------------------------------------------------------------------------
// Python's cp950 codec as an oracle.

const PY_TABLE = String.raw`
import json, sys
codes = []
for lead in range(0xA1, 0xFA):
    for trail in list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)):
        b = bytes([lead, trail])
        try:
            ch = b.decode('cp950')
        except UnicodeDecodeError:
            codes.append([b.hex().upper(), None, None])
            continue
        try:
            enc = ch.encode('cp950').hex().upper()
        except UnicodeEncodeError:
            enc = None
        codes.append([b.hex().upper(), ch, enc])
oneway = []
for cp in range(0x80, 0x30000):
    if 0xD800 <= cp < 0xE000:
        continue
    c = chr(cp)
    try:
        b = c.encode('cp950')
    except UnicodeEncodeError:
        continue
    if b.decode('cp950') != c:
        oneway.append([c, b.hex().upper()])
json.dump({'codes': codes, 'oneway': oneway}, sys.stdout)
`;

const PY_DECODE = String.raw`
import json, sys
out = []
for line in sys.stdin.read().split():
    b = bytes.fromhex(line)
    try:
        out.append({'ok': True, 'text': b.decode('cp950')})
    except UnicodeDecodeError as e:
        out.append({'ok': False, 'start': e.start})
json.dump(out, sys.stdout)
`;

function python<T>(script: string, input = ''): T {
  const r = spawnSync('python3', ['-c', script], { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`python3 is needed for the cross-check with Python's cp950 codec: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Codes Python's cp950 decodes (the ETEN extension: kana, Cyrillic, circled numbers) that
 * Windows CP950 keeps as user-defined (EUDC) space: we refuse them, as unknown EUDC codes. */
const isWindowsEudcC6C8 = (code: number) => code >= 0xc6a1 && code <= 0xc8fe;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("cross-check with Python's cp950 codec", () => {
  type Row = [string, string | null, string | null];
  let codes: Row[] = [];
  let oneway: Array<[string, string]> = [];
  let decodable: Row[] = [];

  beforeAll(() => {
    const t = python<{ codes: Row[]; oneway: Array<[string, string]> }>(PY_TABLE);
    codes = t.codes;
    oneway = t.oneway;
    decodable = codes.filter((c) => c[1] !== null);
  });

  it('Python decodes the whole A140-F9FE table', () => {
    expect(codes.length).toBe((0xf9 - 0xa1 + 1) * (63 + 94));
    expect(decodable.length).toBeGreaterThan(13000);
    const inStandard = decodable.filter(([c]) => c >= 'A440' && c <= 'F9FE');
    expect(inStandard.length).toBeGreaterThan(13000);
  });

  it('every code decodes as Python decodes it, character by character, except C6A1-C7FC', () => {
    const differ: string[] = [];
    for (const [code, ch] of decodable) {
      const d = decodeCp950(hex(code), eudc);
      if (!d.ok || d.value !== ch) differ.push(code);
    }
    const expected = decodable.filter(([c]) => isWindowsEudcC6C8(parseInt(c, 16))).map(([c]) => c);
    expect(differ).toEqual(expected);
    // Exactly the ETEN block: C6A1-C6FE, C740-C77E, C7A1-C7FC (249 codes).
    expect(expected).toHaveLength(94 + 63 + 92);
    expect(expected[0]).toBe('C6A1');
    expect(expected[expected.length - 1]).toBe('C7FC');
  });

  it('those C6A1-C7FC codes are refused as EUDC codes, named, never guessed', () => {
    for (const [code] of decodable.filter(([c]) => isWindowsEudcC6C8(parseInt(c, 16)))) {
      expect(reason(decodeCp950(cat('a', hex(code)), eudc))).toMatch(new RegExp(`${code}.*\\boffset 1\\b`));
      // In auto mode, inside CP950 text (a lone C6A1 is also the UTF-8 of U+01A1, see 'auto' tests).
      const r = reason(decodeLegacyText(cat(hex('A4FD'), hex(code)), 'auto', eudc));
      expect(r).toContain(code);
      expect(r).toMatch(/\boffset 2\b/);
    }
  });

  it('every code Python refuses in A140-F9FE is refused, with the code named', () => {
    const refused = codes.filter((c) => c[1] === null);
    expect(refused.length).toBeGreaterThan(0);
    for (const [code] of refused) {
      const r = reason(decodeCp950(hex(code), eudc));
      expect(r).toContain(code);
    }
  });

  it('the whole table in one value (fast path) decodes as Python decodes it', () => {
    const kept = decodable.filter(([c]) => !isWindowsEudcC6C8(parseInt(c, 16)));
    const rawParts = kept.map(([c], i) => (i % 7 === 0 ? cat(hex(c), ' ') : hex(c)));
    const textParts = kept.map(([, ch], i) => (i % 7 === 0 ? `${ch} ` : ch!));
    expect(value(decodeCp950(Buffer.concat(rawParts), eudc))).toBe(textParts.join(''));
    // The same with EUDC codes of the map in the middle and at the end (slow path).
    const [code, ch] = MAP_ENTRIES[0];
    const mid = Math.floor(rawParts.length / 2);
    const rawSlow = Buffer.concat([...rawParts.slice(0, mid), hex(code), ...rawParts.slice(mid), hex(code)]);
    const textSlow = [...textParts.slice(0, mid), ch, ...textParts.slice(mid), ch].join('');
    expect(value(decodeCp950(rawSlow, eudc))).toBe(textSlow);
    expect(value(decodeLegacyText(rawSlow, 'auto', eudc))).toBe(textSlow);
  });

  it('every character encodes to the bytes Python gives, and decodes back', () => {
    const differ: string[] = [];
    for (const [code, ch, pyEnc] of decodable) {
      if (isWindowsEudcC6C8(parseInt(code, 16))) {
        expect(reason(encodeCp950(ch!, eudc))).toContain(ch!);
        continue;
      }
      const e = encodeCp950(ch!, eudc);
      if (!e.ok || toHex(e.bytes) !== pyEnc) differ.push(`${code}:${ch}`);
      else expect(value(decodeCp950(e.bytes, eudc))).toBe(ch);
    }
    expect(differ).toEqual([]);
  });

  it("characters Python encodes one-way (best fit) are refused, not approximated", () => {
    const notEtEn = oneway.filter(([, b]) => !isWindowsEudcC6C8(parseInt(b.slice(0, 4), 16)));
    expect(notEtEn.map(([c]) => c).sort()).toEqual(['¢', '£', '¥', '•', '‾', '∼', '☉', '♁', '､'].sort());
    for (const [ch] of notEtEn) expect(reason(encodeCp950(ch, eudc))).toContain(ch);
  });

  it('random CP950 values: same text as Python, or refused at the offset Python names', () => {
    const rnd = mulberry32(950);
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
    const valid = decodable.filter(([c]) => !isWindowsEudcC6C8(parseInt(c, 16))).map(([c]) => hex(c));
    const undefinedCodes = codes.filter((c) => c[1] === null).map(([c]) => hex(c));
    const leads = [...new Set(valid.map((b) => b[0]))];
    const badTrails = [0x0a, 0x20, 0x3f, 0x7f, 0x80, 0xa0, 0xff];
    const errorToken = (): Buffer => {
      switch (Math.floor(rnd() * 4)) {
        case 0:
          return Buffer.from([pick([0x80, 0xff])]);
        case 1:
          return Buffer.from([pick(leads), pick(badTrails)]);
        case 2:
          return pick(undefinedCodes);
        default:
          return hex(pick(['FA50', 'FB40', 'FE40', 'FEFE', '8140', 'A0FE']));
      }
    };
    const samples: Buffer[] = [];
    for (let n = 0; n < 3000; n++) {
      const parts: Buffer[] = [];
      const len = 1 + Math.floor(rnd() * 12);
      const errAt = rnd() < 0.4 ? Math.floor(rnd() * len) : -1;
      for (let i = 0; i < len; i++) {
        if (i === errAt) parts.push(errorToken());
        else if (rnd() < 0.25) parts.push(Buffer.from([0x20 + Math.floor(rnd() * 95)]));
        else parts.push(pick(valid));
      }
      if (rnd() < 0.1) parts.push(Buffer.from([pick(leads)])); // truncated at the end
      samples.push(Buffer.concat(parts));
    }
    const py = python<Array<{ ok: true; text: string } | { ok: false; start: number }>>(
      PY_DECODE,
      samples.map((b) => b.toString('hex')).join('\n'),
    );
    expect(py).toHaveLength(samples.length);
    let refusedCount = 0;
    samples.forEach((raw, i) => {
      const ours = decodeCp950(raw, eudc);
      const theirs = py[i];
      if (theirs.ok) {
        expect({ i, hex: toHex(raw), d: ours }).toEqual({ i, hex: toHex(raw), d: { ok: true, value: theirs.text } });
      } else {
        refusedCount++;
        const r = reason(ours);
        expectCleanReason(r);
        expect({ i, hex: toHex(raw), r }).toEqual({ i, hex: toHex(raw), r: expect.stringMatching(new RegExp(`\\boffset ${theirs.start}\\b`)) });
      }
    });
    expect(refusedCount).toBeGreaterThan(500);
    expect(samples.length - refusedCount).toBeGreaterThan(1000);
  });
});

describe('row-level encoding in auto mode', () => {
  const { rowEncodingHint, decodeLegacyText } = require('../../src/encoding/cp950') as typeof import('../../src/encoding/cp950');
  const eudcMap = require('../../src/encoding/eudc').loadEudcMap();
  const iconvLite = require('iconv-lite');

  it('reads a value both encodings accept as its row proves: UTF-8 beside a UTF-8-only value', () => {
    // UTF-8 '溫度°C' is also valid CP950 bytes; the row's other value is UTF-8 only.
    const ambiguous = Buffer.from('溫度°C', 'utf8');
    expect(decodeLegacyText(ambiguous, 'auto', eudcMap).ok).toBe(true);
    const other = Buffer.from('大安區', 'utf8');
    const hint = rowEncodingHint([ambiguous, other], eudcMap);
    expect(hint).toBe('utf8');
    expect(decodeLegacyText(ambiguous, 'auto', eudcMap, hint)).toEqual({ ok: true, value: '溫度°C' });
  });

  it('reads a value both encodings accept as CP950 in a row that is CP950', () => {
    const ambiguous = iconvLite.encode('鈭一', 'cp950') as Buffer; // also the UTF-8 of '交@'
    const other = iconvLite.encode('大安區', 'cp950') as Buffer;
    const hint = rowEncodingHint([ambiguous, other], eudcMap);
    expect(hint).toBe('cp950');
    expect(decodeLegacyText(ambiguous, 'auto', eudcMap, hint)).toEqual({ ok: true, value: '鈭一' });
  });

  it('gives no hint for ASCII-only rows or rows proving both', () => {
    expect(rowEncodingHint([Buffer.from('abc')], eudcMap)).toBeUndefined();
    expect(rowEncodingHint([Buffer.from('大安區', 'utf8'), iconvLite.encode('大安區', 'cp950')], eudcMap)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// 'auto' mode when both encodings can read the bytes. Expected texts are the CP950 table's and
// UTF-8's readings of the bytes, written out by hand (checked with Python's codecs).

/** A batch of 40 rows proving CP950 and none UTF-8, and the other way round. */
const CP950_BATCH: TableEvidence = { cp950Rows: 40, utf8Rows: 0 };
const UTF8_BATCH: TableEvidence = { cp950Rows: 0, utf8Rows: 40 };

describe("'auto' mode: bytes of CP950's shape with an unknown code are no proof of UTF-8", () => {
  // Lead bytes C6-C8 are Windows' user-defined area C6A1-C8FE and also UTF-8 lead bytes.
  const CASES: Array<[string, string]> = [
    ['C6A1', 'ơ'], // U+01A1
    ['C7A1', 'ǡ'], // U+01E1
    ['C8A1', 'ȡ'], // U+0221
  ];
  it.each(CASES)('%s alone, or in a row other values prove CP950, is held back for its code, not read as %s', (code, asUtf8) => {
    const raw = hex(code);
    expect(decodeUtf8Strict(raw)).toBe(asUtf8); // the premise
    const expected = `unknown EUDC code ${code} at offset 0 (not in the EUDC map)`;
    expect(reason(decodeLegacyText(raw, 'auto', eudc))).toBe(expected);
    const hint = rowEncodingHint([raw, hex('A4FDA470A9FA')], eudc); // 王小明, not UTF-8
    expect(hint).toBe('cp950');
    expect(reason(decodeLegacyText(raw, 'auto', eudc, hint))).toBe(expected);
    for (const table of [CP950_BATCH, UTF8_BATCH]) expect(reason(decodeLegacyText(raw, 'auto', eudc, undefined, table))).toBe(expected);
  });

  it('such a value proves nothing about its row: the row of C6A1 and 王小明 is CP950', () => {
    expect(rowEncodingHint([hex('C6A1')], eudc)).toBeUndefined();
    expect(rowEncodingHint([hex('C6A1'), hex('A4FDA470A9FA')], eudc)).toBe('cp950');
  });

  it('in a row other values prove UTF-8, it is the UTF-8 text (CP950 cannot read it either)', () => {
    const hint = rowEncodingHint([hex('C6A1'), Buffer.from('大安區', 'utf8')], eudc);
    expect(hint).toBe('utf8');
    expect(value(decodeLegacyText(hex('C6A1'), 'auto', eudc, hint))).toBe('ơ');
  });

  it('UTF-8 whose CP950 parse meets a user-defined code (川味: 9DE5) is UTF-8, unless its row proves CP950', () => {
    const raw = Buffer.from('川味', 'utf8'); // E5B79D E591B3: CP950 pairs E5B7, 9DE5, 91B3
    expect(reason(decodeCp950(raw, eudc))).toBe('unknown EUDC code 9DE5 at offset 2 (not in the EUDC map)');
    expect(value(decodeLegacyText(raw, 'auto', eudc))).toBe('川味');
    expect(value(decodeLegacyText(raw, 'auto', eudc, undefined, CP950_BATCH))).toBe('川味');
    expect(reason(decodeLegacyText(raw, 'auto', eudc, 'cp950'))).toBe('unknown EUDC code 9DE5 at offset 2 (not in the EUDC map)');
  });
});

describe("'auto' mode: how plausible each reading is decides when the row does not", () => {
  it('璇一 (E6A2 A440), a level-2 hanzi then 一, is CP950, not 梤@', () => {
    const raw = hex('E6A2A440');
    expect(decodeUtf8Strict(raw)).toBe('梤@'); // the premise
    expect(value(decodeLegacyText(raw, 'auto', eudc))).toBe('璇一');
    expect(value(decodeLegacyText(raw, 'auto', eudc, undefined, CP950_BATCH))).toBe('璇一');
    expect(value(decodeLegacyText(raw, 'auto', eudc, 'cp950'))).toBe('璇一');
  });

  it.each([
    ['中山', 'E4B8ADE5B1B1', '銝剖控'],
    ['信義', 'E4BFA1E7BEA9', '靽∠儔'],
    ['並壢', 'E4B8A6E5A3A2', '銝血ㄑ'],
  ])('UTF-8 %s of common hanzi is UTF-8, not the CP950 reading of its bytes (%s: %s)', (text, code, asCp950) => {
    const raw = hex(code);
    expect(Buffer.from(text, 'utf8')).toEqual(raw);
    expect(value(decodeCp950(raw, eudc))).toBe(asCp950); // the premise: both readings exist
    expect(value(decodeLegacyText(raw, 'auto', eudc))).toBe(text);
    expect(value(decodeLegacyText(raw, 'auto', eudc, undefined, UTF8_BATCH))).toBe(text);
  });

  it('a reading with a character CP950 cannot hold loses, whatever the batch says', () => {
    // 蘇 C4AC reads 'Ĭ' (U+012C) as UTF-8; 蓁芸中 reads '㸪夤' (㸪 U+3E2A is CJK extension A).
    expect(value(decodeLegacyText(hex('C4AC'), 'auto', eudc, undefined, UTF8_BATCH))).toBe('蘇');
    expect(value(decodeLegacyText(hex('E3B8AAE5A4A4'), 'auto', eudc, undefined, UTF8_BATCH))).toBe('蓁芸中');
  });

  it('a value as plausible both ways is held back, naming both readings', () => {
    // 大A in UTF-8 (E5A4A7 41) is also CP950 憭 E5A4 + 你 A741.
    const r = reason(decodeLegacyText(hex('E5A4A741'), 'auto', eudc));
    expect(r).toMatch(/^ambiguous bytes: /);
    expect(r).toContain('CP950 reads "憭你"');
    expect(r).toContain('UTF-8 reads "大A"');
    // ... and only its row decides it.
    expect(value(decodeLegacyText(hex('E5A4A741'), 'auto', eudc, 'utf8'))).toBe('大A');
    expect(value(decodeLegacyText(hex('E5A4A741'), 'auto', eudc, 'cp950'))).toBe('憭你');
  });

  it("the batch's rows weigh in: 璇 padded with U+3000 (E6A2 A140, UTF-8 梡@) is CP950 in a CP950 batch only", () => {
    const raw = hex('E6A2A140');
    expect(decodeUtf8Strict(raw)).toBe('梡@');
    for (const table of [undefined, UTF8_BATCH, { cp950Rows: 40, utf8Rows: 40 }]) {
      const r = reason(decodeLegacyText(raw, 'auto', eudc, undefined, table));
      expect(r).toContain('CP950 reads "璇\u3000"');
      expect(r).toContain('UTF-8 reads "梡@"');
    }
    expect(value(decodeLegacyText(raw, 'auto', eudc, undefined, CP950_BATCH))).toBe('璇\u3000');
    expect(value(decodeLegacyText(raw, 'auto', eudc, undefined, { cp950Rows: 970, utf8Rows: 30 }))).toBe('璇\u3000');
  });

  it('a batch that proves UTF-8 alone holds back a value CP950 reads only a little more plausibly', () => {
    // 璇一 (E6A2 A440) alone is CP950; among rows all UTF-8 it is no longer sure.
    const r = reason(decodeLegacyText(hex('E6A2A440'), 'auto', eudc, undefined, UTF8_BATCH));
    expect(r).toContain('CP950 reads "璇一"');
    expect(r).toContain('UTF-8 reads "梤@"');
  });
});

describe("'auto' mode: a row proven UTF-8", () => {
  it('reads a value both encodings accept as UTF-8 when that is text CP950 could hold (禮 C2A7 as §)', () => {
    expect(value(decodeLegacyText(hex('C2A7'), 'auto', eudc, 'utf8'))).toBe('§');
  });

  it('holds back a value whose UTF-8 text has a character no CP950 text holds while CP950 reads it whole', () => {
    const r = reason(decodeLegacyText(hex('C4AC'), 'auto', eudc, 'utf8'));
    expect(r).toContain('"Ĭ"');
    expect(r).toContain('U+012C');
    expect(r).toContain('CP950 reads "蘇"');
  });
});

describe('tableEvidence', () => {
  const cp950Row = [hex('A4FDA470A9FA'), null, 3]; // 王小明 (not UTF-8), NULL, a number
  const utf8Row = [Buffer.from('大安區', 'utf8'), Buffer.from('2024-01-01 00:00:00')];
  it('counts the rows whose values prove one encoding and not the other', () => {
    expect(tableEvidence([cp950Row, cp950Row, utf8Row])).toEqual({ cp950Rows: 2, utf8Rows: 1 });
  });

  it('does not count rows of ASCII, of ambiguous values, with an unknown EUDC code only, or proving both', () => {
    const rows = [
      [Buffer.from('C000123'), null],
      [hex('E6A2A440')], // 璇一 / 梤@
      [hex('C6A1')], // CP950's shape, valid UTF-8
      [hex('A4FDA470A9FA'), Buffer.from('大安區', 'utf8')],
      [],
    ];
    expect(tableEvidence(rows)).toEqual({ cp950Rows: 0, utf8Rows: 0 });
  });

  it('a row with an unknown EUDC code that is not UTF-8 (A4FD FA50) proves CP950', () => {
    expect(tableEvidence([[cat(hex('A4FD'), hex('FA50'))]])).toEqual({ cp950Rows: 1, utf8Rows: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// Write-back (new → legacy).

describe("write-back refuses the characters Windows writes through best fit, saying what it would write", () => {
  // Microsoft's bestfit950.txt, WCTABLE; the code's character from the CP950 table (MBTABLE).
  const BEST_FIT: Array<[string, string, string, string]> = [
    ['¢', 'U+00A2', 'A246', '￠ (U+FFE0)'],
    ['£', 'U+00A3', 'A247', '￡ (U+FFE1)'],
    ['¥', 'U+00A5', 'A244', '￥ (U+FFE5)'],
    ['•', 'U+2022', 'A145', '‧ (U+2027)'],
    ['‾', 'U+203E', 'A1C3', '￣ (U+FFE3)'],
    ['☉', 'U+2609', 'A1F3', '⊙ (U+2299)'],
    ['♁', 'U+2641', 'A1F2', '⊕ (U+2295)'],
    ['､', 'U+FF64', 'A14E', '﹑ (U+FE51)'],
  ];
  it.each(BEST_FIT)('%s (%s): Windows would write %s, which reads back as %s', (ch, cp, code, back) => {
    const [backChar, backCp] = back.split(' ');
    const r = reason(encodeCp950(`已送達${ch}`, eudc));
    expect(r).toBe(
      `character '${ch}' (${cp}) at position 3 has no CP950 or EUDC code ` +
        `(Windows would write its best fit ${code}, which reads back as '${backChar}' ${backCp}, not '${ch}')`,
    );
    // What it reads back as is exact CP950 text of its own.
    expect(bytes(encodeCp950(backChar, eudc))).toBe(code);
  });

  it('∼ (U+223C): Windows has no code for it and would write ?', () => {
    expect(reason(encodeCp950('∼', eudc))).toBe("character '∼' (U+223C) at position 0 has no CP950 or EUDC code (Windows has none either and would write '?')");
  });

  it('other characters CP950 lacks are refused without a best-fit note', () => {
    expect(reason(encodeCp950('한', eudc))).toBe("character '한' (U+D55C) at position 0 has no CP950 or EUDC code");
  });
});

describe("an operator's resolution is checked against what legacy can hold, before anything is written", () => {
  it('accepts CP950 text, EUDC characters of the map and known statuses', () => {
    const [eudcChar] = [...eudc.toCode.keys()];
    expect(legacyRefusal({ notes: `後門${eudcChar}`, status: 'delivered' }, eudc)).toBeNull();
    expect(legacyRefusal({ notes: null, status: 'pending' }, eudc)).toBeNull();
  });
  it('names the column and the character CP950 and the map lack', () => {
    expect(legacyRefusal({ notes: '後門😀' }, eudc)).toBe("notes: character '😀' (U+1F600) at position 2 has no CP950 or EUDC code");
  });
  it('names a status legacy has no word for', () => {
    expect(legacyRefusal({ status: 'lost' }, eudc)).toMatch(/^status: 'lost' is not an order status \(.*pending.*\)$/);
  });
});

describe('the write-back keeps legacy\'s bytes of a value it does not change', () => {
  // Codes CP950 has twice, both read as the same character; iconv-lite encodes the first,
  // Windows writes the second for the box drawing (bestfit950.txt WCTABLE).
  const DUPLICATES: Array<[string, string, string]> = [
    ['十', 'A451', 'A2CC'],
    ['卅', 'A4CA', 'A2CE'],
    ['═', 'A2A4', 'F9F9'],
    ['╞', 'A2A5', 'F9E9'],
    ['╪', 'A2A6', 'F9EA'],
    ['╡', 'A2A7', 'F9EB'],
    ['╭', 'A27E', 'F9FA'],
    ['╮', 'A2A1', 'F9FB'],
    ['╰', 'A2A2', 'F9FC'],
    ['╯', 'A2A3', 'F9FD'],
  ];
  /** A delivery as legacy holds it, with these notes bytes. */
  const delivery = (notes: Buffer | null, status = hex('ABDDB074B065') /* 待配送 */): RawRow => ({
    id: 7,
    cols: {
      client_id: 1,
      driver_id: null,
      delivery_date: Buffer.from('2031-01-01'),
      cylinder_50kg: 0,
      cylinder_20kg: 1,
      cylinder_16kg: 0,
      cylinder_10kg: 0,
      cylinder_4kg: 0,
      status,
      amount: 100,
      notes,
      created_at: Buffer.from('2031-01-01 10:00:00'),
      updated_at: Buffer.from('2031-01-01 10:00:00'),
    },
  });
  /** The order's write: notes as the new system holds them (trimmed), freshly encoded. */
  const write = (notes: string | null): LegacyWrite => ({
    orderId: 1,
    expect: { legacyId: 7, hash: '' },
    values: { notes: notes === null ? null : hex(bytes(encodeCp950(notes, eudc))) },
    order: { delivery_date: '2031-01-01', qty_50kg: 0, qty_20kg: 1, qty_16kg: 0, qty_10kg: 0, qty_4kg: 0, status: 'pending', amount: 100, notes, created_at: '2031-01-01T02:00:00.000Z', updated_at: '2031-01-01T02:00:00.000Z' },
  });
  const notesOf = (v: Record<string, LegacyValue>) => (v.notes === null ? null : toHex(v.notes as Buffer));

  it.each(DUPLICATES)('%s written as %s or %s keeps the code it has', (ch, written, other) => {
    expect(bytes(encodeCp950(ch, eudc))).toBe(written); // a fresh encoding writes this one
    for (const code of [written, other]) {
      const previous = cat('x', hex(code));
      expect(notesOf(keepUnchanged(delivery(previous), write(`x${ch}`), {}, eudc))).toBe(toHex(previous));
    }
  });

  it('keeps EUDC codes and padding, byte for byte (the new system holds the value trimmed)', () => {
    const previous = cat(hex('A140'), hex('A4FD'), hex('FA40'), hex('A9FA'), ' '); // 　王堃明 + space
    expect(notesOf(keepUnchanged(delivery(previous), write('王堃明'), {}, eudc))).toBe('A140A4FDFA40A9FA20');
  });

  it('a changed value is encoded afresh, with the code a fresh encoding chooses', () => {
    expect(notesOf(keepUnchanged(delivery(hex('A2CC')), write('十一'), {}, eudc))).toBe('A451A440');
    expect(notesOf(keepUnchanged(delivery(hex('A4FDFA41')), write('王堃'), {}, eudc))).toBe('A4FDFA40'); // 王喆 → 王堃
  });

  it('a value a 2023 patch wrote in UTF-8 keeps its UTF-8 bytes while unchanged', () => {
    const utf8 = Buffer.from('十點前', 'utf8');
    expect(notesOf(keepUnchanged(delivery(utf8, Buffer.from('待配送', 'utf8')), write('十點前'), {}, eudc))).toBe(toHex(utf8));
  });

  it('a legacy row that does not convert keeps nothing: the write is as planned', () => {
    const broken = cat(hex('A4FD'), hex('FA50')); // an unknown EUDC code
    expect(notesOf(keepUnchanged(delivery(broken), write('王'), {}, eudc))).toBe('A4FD');
  });
});
