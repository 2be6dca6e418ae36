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

const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

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

const UTF16 = new TextDecoder('utf-16le');

/** CP950 bytes → text; EUDC codes through the map (first), anything inexact is refused. */
export function decodeCp950(bytes: Buffer, eudc: EudcMap): Decoded {
  if (isAscii(bytes)) return { ok: true, value: bytes.toString('latin1') };
  const t = cp950Table();
  // One UTF-16 unit per byte at most: ASCII is 1:1, a double-byte code 2 bytes → 1 or 2 units.
  const out = new Uint16Array(bytes.length);
  let n = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      out[n++] = b;
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
      for (let k = 0; k < mapped.length; k++) out[n++] = mapped.charCodeAt(k);
    } else if (t[code] !== 0) {
      out[n++] = t[code];
    } else {
      const kind = b >= 0xfa || b <= 0xa0 || (b >= 0xc6 && b <= 0xc8) ? 'EUDC code' : 'CP950 code';
      return { ok: false, reason: `unknown ${kind} ${hex2(b)}${hex2(tb)} at offset ${i} (not in the EUDC map)` };
    }
    i += 2;
  }
  return { ok: true, value: UTF16.decode(out.subarray(0, n)) };
}

/** Strict UTF-8: null when the bytes are not valid UTF-8 (validated natively, no exception). */
export function decodeUtf8Strict(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}

/**
 * Decoded UTF-8 that looks like this data (CJK, punctuation, ASCII) rather than CP950 bytes
 * that happen to be valid UTF-8 (which decode to Latin/Greek/Cyrillic letters).
 */
function plausibleUtf8(text: string): boolean {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) continue;
    if (cp >= 0x80 && cp < 0x2000) return false;
  }
  return true;
}

/** Both readings of a value, each computed once. */
export interface Readings {
  bytes: Buffer;
  ascii: boolean;
  utf8: string | null;
  cp950: Decoded;
}

export function readings(bytes: Buffer, eudc: EudcMap): Readings {
  if (isAscii(bytes)) {
    const value = bytes.toString('latin1');
    return { bytes, ascii: true, utf8: value, cp950: { ok: true, value } };
  }
  return { bytes, ascii: false, utf8: decodeUtf8Strict(bytes), cp950: decodeCp950(bytes, eudc) };
}

/**
 * The encoding a row's text values prove: a value only UTF-8 can read makes the row UTF-8,
 * one only CP950 can read makes it CP950; no proof, or proofs both ways, gives no hint.
 */
export function rowHint(values: Readings[]): 'utf8' | 'cp950' | undefined {
  let utf8 = false;
  let cp950 = false;
  for (const r of values) {
    if (r.ascii) continue;
    if (r.utf8 !== null && !r.cp950.ok) utf8 = true;
    if (r.cp950.ok && r.utf8 === null) cp950 = true;
  }
  return utf8 === cp950 ? undefined : utf8 ? 'utf8' : 'cp950';
}

/**
 * A value's text by the column's mode. In 'auto' mode `hint` is the encoding the row's other
 * values prove (a patched row is UTF-8 as a whole), so a value both readings accept follows
 * its row; without a hint, UTF-8 is taken only when its text is what CP950 and the EUDC map
 * could hold (e.g. Big5 '騏中' F1AF A4A4 is also the UTF-8 of U+6F924: CP950 bytes misread).
 */
export function chooseReading(r: Readings, mode: TextEncodingMode, eudc: EudcMap, hint?: 'utf8' | 'cp950'): Decoded {
  if (r.ascii) return r.cp950;
  if (mode === 'cp950') return r.cp950;
  if (mode === 'utf8') return r.utf8 === null ? { ok: false, reason: firstUtf8Error(r.bytes) } : { ok: true, value: r.utf8 };
  if (r.utf8 === null) return r.cp950;
  if (!r.cp950.ok) return { ok: true, value: r.utf8 };
  if (hint === 'utf8') return { ok: true, value: r.utf8 };
  if (hint === 'cp950') return r.cp950;
  if (plausibleUtf8(r.utf8) && encodeCp950(r.utf8, eudc).ok) return { ok: true, value: r.utf8 };
  return r.cp950;
}

/** Legacy text bytes → text, by the column's mode, alone or with its row's hint. */
export function decodeLegacyText(bytes: Buffer, mode: TextEncodingMode, eudc: EudcMap, hint?: 'utf8' | 'cp950'): Decoded {
  return chooseReading(readings(bytes, eudc), mode, eudc, hint);
}

/** The row hint of raw values (see rowHint). */
export function rowEncodingHint(values: Buffer[], eudc: EudcMap): 'utf8' | 'cp950' | undefined {
  return rowHint(values.map((v) => readings(v, eudc)));
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

/** Text → CP950 bytes; characters CP950 lacks go through the EUDC map, or the text is refused. */
export function encodeCp950(text: string, eudc: EudcMap): Encoded {
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
      if (code === undefined) {
        const cp = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        return { ok: false, reason: `character '${ch}' (U+${cp}) at position ${offset} has no CP950 or EUDC code` };
      }
      parts.push(Buffer.from([code >> 8, code & 0xff]));
    }
    offset += 1;
  }
  return { ok: true, bytes: Buffer.concat(parts) };
}
