import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import type { EudcMap } from './eudc';

/**
 * Exact CP950 (Windows Big5) ↔ Unicode conversion with the site's EUDC map.
 *
 * iconv-lite alone is not exact for this data: 'cp950' turns EUDC codes into U+FFFD plus
 * the trail byte, 'big5' is Big5-HKSCS and gives other characters for them, and encoding a
 * character CP950 lacks yields '?' silently. So iconv-lite does the bulk of the work on a
 * fast path and every case it cannot do exactly is handled here, or refused with a reason.
 */

export type Decoded = { ok: true; value: string } | { ok: false; reason: string };
export type Encoded = { ok: true; bytes: Buffer } | { ok: false; reason: string };

export type TextEncodingMode = 'auto' | 'cp950' | 'utf8';

/** A byte as two hex digits, from a table: reasons are made for every value a reading refuses, which in 'auto' mode is many. */
const HEX = Array.from({ length: 256 }, (_, n) => n.toString(16).toUpperCase().padStart(2, '0'));
const hex2 = (n: number) => HEX[n];

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

/** Characters iconv-lite produces for bytes that are not plain CP950 text. */
const SUSPECT = /[\uFFFD\uE000-\uF8FF]/;

function isLeadByte(b: number) {
  return b >= 0x81 && b <= 0xfe;
}
function isTrailByte(b: number) {
  return (b >= 0x40 && b <= 0x7e) || (b >= 0xa1 && b <= 0xfe);
}

/**
 * Every CP950 double-byte code as iconv-lite decodes it alone, as a UTF-16 unit (0: not a
 * character). Built once; decoding is then a table lookup per character, which is what keeps
 * conversion cheap on millions of rows.
 */
let table: Uint16Array | null = null;
function cp950Table(): Uint16Array {
  if (table) return table;
  const t = new Uint16Array(0x10000);
  const pair = Buffer.alloc(2);
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (!isTrailByte(trail)) continue;
      pair[0] = lead;
      pair[1] = trail;
      const ch = iconv.decode(pair, 'cp950');
      if (ch.length === 1 && !SUSPECT.test(ch)) t[(lead << 8) | trail] = ch.charCodeAt(0);
    }
  }
  return (table = t);
}

/**
 * Where decodeCp950 puts the text's UTF-16LE bytes: one buffer, grown as needed, instead of one
 * per value; the text is made from them in one call, with no view of them made per value.
 */
let utf16 = Buffer.allocUnsafe(512);

/** CP950 bytes → text; EUDC codes through the map (first), anything inexact is refused. */
export function decodeCp950(bytes: Buffer, eudc: EudcMap): Decoded {
  if (isAscii(bytes)) return { ok: true, value: bytes.toString('latin1') };
  const t = cp950Table();
  // One UTF-16 unit (2 bytes) per byte at most: ASCII is 1:1, a double-byte code 2 bytes → 1 or 2 units.
  if (utf16.length < bytes.length * 2) utf16 = Buffer.allocUnsafe(bytes.length * 4);
  const out = utf16;
  let n = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      out[n++] = b;
      out[n++] = 0;
      i += 1;
      continue;
    }
    if (!isLeadByte(b)) return { ok: false, reason: `invalid CP950 byte 0x${hex2(b)} at offset ${i}` };
    if (i + 1 >= bytes.length) return { ok: false, reason: `truncated CP950 sequence 0x${hex2(b)} at offset ${i}` };
    const tb = bytes[i + 1];
    if (!isTrailByte(tb)) {
      return { ok: false, reason: `invalid CP950 sequence 0x${hex2(b)}${hex2(tb)} at offset ${i}` };
    }
    const code = (b << 8) | tb;
    const mapped = eudc.toChar.get(code);
    if (mapped !== undefined) {
      for (let k = 0; k < mapped.length; k++) n = putUnit(out, n, mapped.charCodeAt(k));
    } else if (t[code] !== 0) {
      n = putUnit(out, n, t[code]);
    } else {
      const kind = b >= 0xfa || b <= 0xa0 || (b >= 0xc6 && b <= 0xc8) ? 'EUDC code' : 'CP950 code';
      return { ok: false, reason: `unknown ${kind} ${hex2(b)}${hex2(tb)} at offset ${i} (not in the EUDC map)` };
    }
    i += 2;
  }
  return { ok: true, value: out.toString('utf16le', 0, n) };
}

/** A UTF-16 unit at `at`, little-endian; the place after it. */
function putUnit(out: Buffer, at: number, unit: number): number {
  out[at] = unit & 0xff;
  out[at + 1] = unit >>> 8;
  return at + 2;
}

/** Strict UTF-8: null when the bytes are not valid UTF-8 (validated natively, no exception). */
export function decodeUtf8Strict(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}

/** Whether the bytes are CP950's shape: ASCII and lead/trail pairs, whatever the codes mean. */
function isWellFormedCp950(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] < 0x80) i += 1;
    else if (isLeadByte(bytes[i]) && i + 1 < bytes.length && isTrailByte(bytes[i + 1])) i += 2;
    else return false;
  }
  return true;
}

export type Encoding = 'cp950' | 'utf8';

/**
 * What bytes prove on their own: the one encoding of the two that can read them at all. Bytes
 * of CP950's shape with a code nobody mapped (an unknown EUDC code) still are CP950's shape:
 * failing to decode them is no proof of UTF-8.
 */
function proofOf(validUtf8: boolean, wellFormedCp950: boolean): Encoding | undefined {
  if (validUtf8 === wellFormedCp950) return undefined;
  return validUtf8 ? 'utf8' : 'cp950';
}

/** Both readings of a value, each computed once. */
export interface Readings {
  bytes: Buffer;
  ascii: boolean;
  utf8: string | null;
  cp950: Decoded;
  /** The encoding these bytes alone prove (see proofOf). */
  proves: Encoding | undefined;
}

export function readings(bytes: Buffer, eudc: EudcMap): Readings {
  if (isAscii(bytes)) {
    const value = bytes.toString('latin1');
    return { bytes, ascii: true, utf8: value, cp950: { ok: true, value }, proves: undefined };
  }
  const utf8 = decodeUtf8Strict(bytes);
  const cp950 = decodeCp950(bytes, eudc);
  return { bytes, ascii: false, utf8, cp950, proves: proofOf(utf8 !== null, cp950.ok || isWellFormedCp950(bytes)) };
}

/** What a set of values proves together: one encoding proven and the other not, else nothing. */
function combine(proofs: Iterable<Encoding | undefined>): Encoding | undefined {
  let utf8 = false;
  let cp950 = false;
  for (const p of proofs) {
    if (p === 'utf8') utf8 = true;
    else if (p === 'cp950') cp950 = true;
  }
  return utf8 === cp950 ? undefined : utf8 ? 'utf8' : 'cp950';
}

/**
 * The encoding a row's text values prove (a 2023-patch row is UTF-8 as a whole, the others
 * CP950): some value only that encoding can read, none only the other. No proof, or proofs
 * both ways, gives no hint.
 */
export function rowHint(values: Readings[]): Encoding | undefined {
  return combine(values.map((r) => r.proves));
}

/** The row hint of raw values (see rowHint). */
export function rowEncodingHint(values: Buffer[], eudc: EudcMap): Encoding | undefined {
  return rowHint(values.map((v) => readings(v, eudc)));
}

/** What the rows of one batch prove about their table: how many rows each encoding's values prove. */
export interface TableEvidence {
  cp950Rows: number;
  utf8Rows: number;
}

/** A batch's evidence, or how to get it once a value needs it (step 3 of chooseReading, which most rows never reach). */
export type BatchEvidence = TableEvidence | (() => TableEvidence);

/**
 * The table evidence of a batch, computed once for it: `rows` holds, per row, the raw values
 * of its 'auto' text columns (anything but bytes, e.g. NULL, proves nothing). A row counts as
 * rowHint counts it.
 */
export function tableEvidence(rows: Iterable<readonly unknown[]>): TableEvidence {
  const evidence: TableEvidence = { cp950Rows: 0, utf8Rows: 0 };
  for (const values of rows) addEvidence(evidence, values);
  return evidence;
}

/** One row's 'auto' text values counted into `evidence` (see tableEvidence). */
export function addEvidence(evidence: TableEvidence, values: readonly unknown[]): void {
  const proof = combine(values.map((v) => (Buffer.isBuffer(v) ? proofOf(isUtf8(v), isWellFormedCp950(v)) : undefined)));
  if (proof === 'cp950') evidence.cp950Rows++;
  else if (proof === 'utf8') evidence.utf8Rows++;
}

/**
 * The batch's say, in the units of the costs below: log10 of the odds, by its proven rows, that
 * a row of the table is CP950 rather than UTF-8 (each count plus one, so that a batch of 40 CP950
 * rows and no UTF-8 row says 1.6, one of 970 and 30 says 1.5, no evidence 0).
 */
function priorForCp950(table: TableEvidence | undefined): number {
  return table ? Math.log10((table.cp950Rows + 1) / (table.utf8Rows + 1)) : 0;
}

/*
 * Plausibility of a reading: the sum of its characters' costs, each roughly minus the log10 of
 * how often that character occurs in this data. Big5 orders hanzi by use: level 1 (A440-C67E)
 * holds the frequent ones, level 2 (C940-F9D5) the rare ones. ASCII counts only where the two
 * readings differ: a CP950 trail byte 40-7E is half of a hanzi in one and an ASCII character
 * glued to the character before it in the other.
 */
const COST_PADDING = 3; // U+3000 (A140), what old screens padded with
const COST_COMMON = 4; // a level-1 hanzi; CJK punctuation and signs (A141-A1FE); a glued ASCII letter ('3樓A室')
const COST_SYMBOL = 5; // other CP950 symbols (full-width forms, units, box drawing); a mapped EUDC character
const COST_RARE = 6; // a level-2 hanzi; bopomofo (A374-A3BF)
/**
 * Any character U+0080-U+07FF (Latin-1 signs, Greek: what CP950 bytes C2-DF give when misread
 * as UTF-8: 禮 C2A7 as '§'); a glued ASCII sign ('@' [ \ ] ^ _ ` { | } ~): the trail 40 of
 * 一 A440 and U+3000 A140 reads '@', which hardly ever follows a hanzi.
 */
const COST_ODD = 7;
const COST_UNKNOWN = 8; // a CP950 code with no character (an EUDC code not in the map, an undefined code)
/** How much more plausible, with the batch's say, the winning reading must be: a thousandfold. */
const MARGIN = 3;
/** Marks a character no CP950 code holds. */
const NOT_CP950 = 0xff;

function codeCost(code: number): number {
  if (code === 0xa140) return COST_PADDING;
  if ((code >= 0xa440 && code <= 0xc67e) || (code >= 0xa141 && code <= 0xa1fe)) return COST_COMMON;
  if ((code >= 0xc940 && code <= 0xf9d5) || (code >= 0xa374 && code <= 0xa3bf)) return COST_RARE;
  return COST_SYMBOL;
}

/** Per BMP character, the cost of its cheapest CP950 code (十 is both A2CC and A451); NOT_CP950 when it has none. */
let costs: Uint8Array | null = null;
function charCosts(): Uint8Array {
  if (costs) return costs;
  const t = cp950Table();
  const c = new Uint8Array(0x10000).fill(NOT_CP950);
  for (let code = 0x8140; code <= 0xfefe; code++) {
    const ch = t[code];
    if (ch !== 0) c[ch] = Math.min(c[ch], ch < 0x800 ? COST_ODD : codeCost(code));
  }
  return (costs = c);
}

/** The cost of a UTF-8 reading's non-ASCII characters, or the first one neither CP950 nor the EUDC map holds. */
function utf8Cost(text: string, eudc: EudcMap): { cost: number } | { foreign: string } {
  const c = charCosts();
  let cost = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) continue;
    const k = cp < 0x10000 ? c[cp] : NOT_CP950;
    if (k !== NOT_CP950) cost += k;
    else if (eudc.toCode.has(ch)) cost += COST_SYMBOL;
    else return { foreign: ch };
  }
  return { cost };
}

const isLetter = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/**
 * The cost of the CP950 reading of well-formed CP950 bytes, and the cost its ASCII trail bytes
 * add to the UTF-8 reading, which shows them glued to the character before.
 */
function cp950Cost(bytes: Buffer, eudc: EudcMap): { cost: number; glued: number } {
  const t = cp950Table();
  const c = charCosts();
  let cost = 0;
  let glued = 0;
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] < 0x80) {
      i += 1;
      continue;
    }
    const code = (bytes[i] << 8) | bytes[i + 1];
    cost += eudc.toChar.has(code) ? COST_SYMBOL : t[code] !== 0 ? c[t[code]] : COST_UNKNOWN;
    if (bytes[i + 1] < 0x80) glued += isLetter(bytes[i + 1]) ? COST_COMMON : COST_ODD;
    i += 2;
  }
  return { cost, glued };
}

const codePoint = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
const q = (s: string) => JSON.stringify(s);
const cp950Said = (d: Decoded) => (d.ok ? `CP950 reads ${q(d.value)}` : `CP950 finds ${d.reason}`);

/**
 * A value's text by the column's mode. In 'auto' mode, when both encodings can read the bytes,
 * the evidence decides, strongest first:
 *  1. the row (`hint`, see rowHint): its reading, except that a UTF-8 row's value whose UTF-8
 *     text has a character no CP950 text holds while CP950 reads it whole is held back;
 *  2. the value itself: a UTF-8 reading with a character CP950 and the EUDC map cannot hold is
 *     CP950 bytes misread (蘇 C4AC as 'Ĭ', EUDC C6A1 as 'ơ'), so the value is CP950's;
 *  3. plausibility, with the batch's say (`table`, see tableEvidence and priorForCp950): the
 *     cheaper reading (see the costs above) wins by MARGIN or more: 璇一 E6A2A440 is not '梤@',
 *     '中山' in UTF-8 is not '銝剖控' (a winning CP950 reading with a code it cannot read holds
 *     the value back for that code).
 * A value still undecided is held back, naming both readings.
 */
export function chooseReading(
  r: Readings,
  mode: TextEncodingMode,
  eudc: EudcMap,
  hint?: Encoding,
  table?: BatchEvidence,
): Decoded {
  if (r.ascii) return r.cp950;
  if (mode === 'cp950') return r.cp950;
  if (mode === 'utf8') return r.utf8 === null ? { ok: false, reason: firstUtf8Error(r.bytes) } : { ok: true, value: r.utf8 };
  if (r.utf8 === null) return r.cp950;
  const utf8: Decoded = { ok: true, value: r.utf8 };
  if (r.proves === 'utf8') return utf8;
  if (hint === 'cp950') return r.cp950;
  const uCost = utf8Cost(r.utf8, eudc);
  if ('foreign' in uCost) {
    if (hint !== 'utf8') return r.cp950;
    if (!r.cp950.ok) return utf8;
    const ch = uCost.foreign;
    return {
      ok: false,
      reason: `the row is UTF-8, but UTF-8 reads ${q(r.utf8)}, whose '${ch}' (${codePoint(ch)}) no CP950 text holds, and ${cp950Said(r.cp950)}`,
    };
  }
  if (hint === 'utf8') return utf8;
  const c = cp950Cost(r.bytes, eudc);
  // How much more plausible the UTF-8 reading is (negative: the CP950 one), the batch's say included.
  const lead = c.cost - (uCost.cost + c.glued) - priorForCp950(typeof table === 'function' ? table() : table);
  if (lead >= MARGIN) return utf8;
  if (lead <= -MARGIN) return r.cp950;
  const deciders = table ? 'the row, the batch nor how common their characters are' : 'the row nor how common their characters are';
  return { ok: false, reason: `ambiguous bytes: ${cp950Said(r.cp950)} and UTF-8 reads ${q(r.utf8)}, and neither ${deciders} tells which` };
}

/** Legacy text bytes → text, by the column's mode, alone or with its row's hint and its batch's evidence. */
export function decodeLegacyText(
  bytes: Buffer,
  mode: TextEncodingMode,
  eudc: EudcMap,
  hint?: Encoding,
  table?: TableEvidence,
): Decoded {
  return chooseReading(readings(bytes, eudc), mode, eudc, hint, table);
}

/** Names the offset of the first byte that breaks UTF-8, for the held-back reason. */
function firstUtf8Error(bytes: Buffer): string {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length || decodeUtf8Strict(bytes.subarray(i, i + len)) === null) {
      return `invalid UTF-8 byte 0x${hex2(b)} at offset ${i}`;
    }
    i += len;
  }
  return 'invalid UTF-8';
}

/**
 * CP950 has two codes for 十 and 卅 (A2CC/A451, A2CE/A4CA). iconv-lite encodes the symbol-area
 * ones; Windows (the legacy app's IME and .NET), Python and WHATWG write the hanzi codes.
 */
const PREFERRED_CODES: ReadonlyMap<string, Buffer> = new Map([
  ['\u5341', Buffer.from([0xa4, 0x51])],
  ['\u5345', Buffer.from([0xa4, 0xca])],
]);
const HAS_PREFERRED = /[\u5341\u5345]/;

/**
 * Characters Windows' CP950 encoder writes through "best fit" (Microsoft's bestfit950.txt,
 * WCTABLE) to a code that reads back as another character: ¢ → A246, read back as ￠. Python's
 * cp950 codec writes the same codes, but ‾ as A1C2 (read back as ¯) and ∼ as A1E3 (～), for
 * which Windows has no code and writes '?'. Write-back refuses them all (the order is held
 * back): written, ¢ would come back as ￠, and the consistency check, a repair or the next
 * legacy edit of the row would then change the new system's text without anyone deciding to.
 * The reason names what Windows would have written; that code's own character (￠) is exact.
 */
const WINDOWS_BEST_FIT: ReadonlyMap<string, number | null> = new Map([
  ['\u00A2', 0xa246], // ¢
  ['\u00A3', 0xa247], // £
  ['\u00A5', 0xa244], // ¥
  ['\u2022', 0xa145], // •
  ['\u203E', 0xa1c3], // ‾
  ['\u223C', null], // ∼
  ['\u2609', 0xa1f3], // ☉
  ['\u2641', 0xa1f2], // ♁
  ['\uFF64', 0xa14e], // ､
]);

function unencodable(ch: string, position: number): Encoded {
  const reason = `character '${ch}' (${codePoint(ch)}) at position ${position} has no CP950 or EUDC code`;
  const code = WINDOWS_BEST_FIT.get(ch);
  if (code === undefined) return { ok: false, reason };
  if (code === null) return { ok: false, reason: `${reason} (Windows has none either and would write '?')` };
  const back = String.fromCharCode(cp950Table()[code]);
  return {
    ok: false,
    reason: `${reason} (Windows would write its best fit ${code.toString(16).toUpperCase()}, which reads back as '${back}' (${codePoint(back)}), not '${ch}')`,
  };
}

/** Text → CP950 bytes; characters CP950 lacks go through the EUDC map, or the text is refused. */
export function encodeCp950(text: string, eudc: EudcMap): Encoded {
  // CP950's single bytes are ASCII: dates, timestamps and most codes need no codec and no round
  // trip. Text is ASCII when its UTF-8 takes one byte a character.
  if (Buffer.byteLength(text, 'utf8') === text.length) return { ok: true, bytes: Buffer.from(text, 'latin1') };
  if (!HAS_PREFERRED.test(text)) {
    const fast = iconv.encode(text, 'cp950');
    if (iconv.decode(fast, 'cp950') === text) return { ok: true, bytes: fast };
  }

  const parts: Buffer[] = [];
  let offset = 0;
  for (const ch of text) {
    const preferred = PREFERRED_CODES.get(ch);
    if (preferred !== undefined) {
      parts.push(preferred);
      offset += 1;
      continue;
    }
    const enc = iconv.encode(ch, 'cp950');
    if (iconv.decode(enc, 'cp950') === ch) {
      parts.push(enc);
    } else {
      const code = eudc.toCode.get(ch);
      if (code === undefined) return unencodable(ch, offset);
      parts.push(Buffer.from([code >> 8, code & 0xff]));
    }
    offset += 1;
  }
  return { ok: true, bytes: Buffer.concat(parts) };
}

/**
 * Builds the tables (and loads iconv-lite's CP950 codec both ways) now rather than in the
 * first batch a worker converts: some 150 ms of a first batch, paid once at start instead.
 */
export function warmUpCp950(): void {
  charCosts();
  iconv.decode(iconv.encode('中', 'cp950'), 'cp950');
}
