/**
 * The contract's value rules, legacy → new (shared/contract/new-system.md, "Rules, legacy to
 * new"), as pure functions. Each either returns the new value or throws a RuleError whose
 * message becomes the held-back reason.
 */

export class RuleError extends Error {}

/** Rule 1: trim ASCII spaces, tabs and U+3000 (full-width space) at both ends. */
export function trimLegacy(text: string): string {
  return text.replace(/^[ \t\u3000]+|[ \t\u3000]+$/g, '');
}

/** Rule 1: an optional column whose trimmed value is empty becomes NULL. */
export function optionalText(text: string | null): string | null {
  if (text === null) return null;
  const t = trimLegacy(text);
  return t === '' ? null : t;
}

const PHONE_PREFIX = /\+886[- ]?(?:\(0\))?/g;
const PHONE =
  /(?<![0-9])(?:09[0-9]{2}[-. ]?[0-9]{3}[-. ]?[0-9]{3}|\(0[0-9]{1,3}\) ?[0-9]{2,4}[- ]?[0-9]{4}|0[2-8][0-9]{0,2}[- ][0-9]{2,4}[- ]?[0-9]{4}|0[2-8][0-9]{7,8})(?![0-9])/;

/** Rule 3: the first Taiwanese phone number in free text, digits only; null when none. */
export function extractPhone(text: string | null): string | null {
  if (text === null) return null;
  const normalised = text.normalize('NFKC').replace(PHONE_PREFIX, '0');
  const m = PHONE.exec(normalised);
  return m ? m[0].replace(/[^0-9]/g, '') : null;
}

const TAIPEI_OFFSET_HOURS = 8;

function taipeiToUtc(y: number, mo: number, d: number, h: number, mi: number, s: number, raw: string, column: string): Date {
  const date = new Date(Date.UTC(y, mo - 1, d, h - TAIPEI_OFFSET_HOURS, mi, s));
  // Date.UTC rolls 2024-02-30 over to March: compare back to refuse impossible dates.
  const local = new Date(date.getTime() + TAIPEI_OFFSET_HOURS * 3600_000);
  if (
    local.getUTCFullYear() !== y ||
    local.getUTCMonth() !== mo - 1 ||
    local.getUTCDate() !== d ||
    local.getUTCHours() !== h ||
    local.getUTCMinutes() !== mi ||
    local.getUTCSeconds() !== s
  ) {
    throw new RuleError(`impossible ${column} '${raw}': no such date or time`);
  }
  return date;
}

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const ZH_TW = /^(\d{4})\/(\d{1,2})\/(\d{1,2}) (上午|下午) (\d{1,2}):(\d{2}):(\d{2})$/;

/** Rule 4: a legacy Asia/Taipei timestamp, in either legacy format, as a UTC instant. */
export function parseLegacyTimestamp(text: string, column: string): Date {
  const t = trimLegacy(text);
  let m = ISO_LOCAL.exec(t);
  if (m) return taipeiToUtc(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6], t, column);
  m = ZH_TW.exec(t);
  if (m) {
    const h12 = +m[5];
    if (h12 < 1 || h12 > 12) throw new RuleError(`unparseable ${column} '${t}': hour ${h12} in a 12-hour clock`);
    const h = (h12 % 12) + (m[4] === '下午' ? 12 : 0);
    return taipeiToUtc(+m[1], +m[2], +m[3], h, +m[6], +m[7], t, column);
  }
  throw new RuleError(`unparseable ${column} '${t}'`);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (y: number, m: number) => (m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : DAYS_IN_MONTH[m - 1]);

/** Digits of `text` from `at`, `n` of them, as a number; -1 when one is not a digit. */
function digitsAt(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Where plainDate and localTime put what they read: y, m, d, h, mi, s. One array for every
 * value rather than one made per value (two timestamps and a date per row of a load).
 */
const parts = new Int32Array(6);

/** Reads y-m-d into parts, when it is a date of years 1001-9999 (the ones every legacy row has), checked; whether it was. */
function plainDate(text: string): boolean {
  if (text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d) return false;
  const y = digitsAt(text, 0, 4);
  const m = digitsAt(text, 5, 2);
  const d = digitsAt(text, 8, 2);
  if (!(y > 1000 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m))) return false;
  parts[0] = y;
  parts[1] = m;
  parts[2] = d;
  return true;
}

/** The character code of a digit. */
const digit = (n: number) => 0x30 + n;

/**
 * Rule 4 as the new tables take it: ISO-8601 UTC text, what parseLegacyTimestamp(...).toISOString()
 * gives. Both legacy forms, when valid and unpadded (as nearly every row has them), are read
 * character by character and the text made in one call (a regular expression and three Date
 * objects per value were a quarter of a row's conversion); anything else goes through
 * parseLegacyTimestamp, which reads it or names what is wrong.
 */
export function legacyTimestampIso(text: string, column: string): string {
  if (!localTime(text)) return parseLegacyTimestamp(text, column).toISOString();
  let y = parts[0];
  let m = parts[1];
  let d = parts[2];
  let hour = parts[3] - TAIPEI_OFFSET_HOURS;
  if (hour < 0) {
    hour += 24;
    if (--d === 0) {
      if (--m === 0) {
        m = 12;
        y--;
      }
      d = daysIn(y, m);
    }
  }
  const mi = parts[4];
  const sec = parts[5];
  // 'YYYY-MM-DDTHH:MM:SS.000Z'
  return String.fromCharCode(
    digit(Math.floor(y / 1000)), digit(Math.floor(y / 100) % 10), digit(Math.floor(y / 10) % 10), digit(y % 10), 0x2d,
    digit(Math.floor(m / 10)), digit(m % 10), 0x2d,
    digit(Math.floor(d / 10)), digit(d % 10), 0x54,
    digit(Math.floor(hour / 10)), digit(hour % 10), 0x3a,
    digit(Math.floor(mi / 10)), digit(mi % 10), 0x3a,
    digit(Math.floor(sec / 10)), digit(sec % 10), 0x2e, 0x30, 0x30, 0x30, 0x5a,
  );
}

/** Reads Taipei y, m, d, h, mi, s of 'YYYY-MM-DD HH:MM:SS' or 'YYYY/M/D 上午|下午 h:mm:ss' into parts, when exactly that and valid (years 1001-9999); whether it was. */
function localTime(text: string): boolean {
  if (text.length === 19 && text.charCodeAt(10) === 0x20 && text.charCodeAt(13) === 0x3a && text.charCodeAt(16) === 0x3a) {
    return plainDate(text) && time(digitsAt(text, 11, 2), digitsAt(text, 14, 2), digitsAt(text, 17, 2));
  }
  // 'YYYY/M/D 上午 h:mm:ss', read left to right.
  if (text.length < 19 || text.length > 22 || text.charCodeAt(4) !== 0x2f) return false;
  let at = 5;
  const upTo2 = (): number => {
    const one = digitsAt(text, at, 1);
    if (one < 0) return -1;
    const two = digitsAt(text, at + 1, 1);
    at += two < 0 ? 1 : 2;
    return two < 0 ? one : one * 10 + two;
  };
  const y = digitsAt(text, 0, 4);
  const m = upTo2();
  if (m < 0 || text.charCodeAt(at++) !== 0x2f) return false;
  const d = upTo2();
  if (d < 0 || text.charCodeAt(at++) !== 0x20) return false;
  const half = text.charCodeAt(at);
  if ((half !== 0x4e0a && half !== 0x4e0b) || text.charCodeAt(at + 1) !== 0x5348 || text.charCodeAt(at + 2) !== 0x20) return false; // 上午 / 下午
  at += 3;
  const h12 = upTo2();
  if (h12 < 1 || h12 > 12 || text.charCodeAt(at) !== 0x3a || text.charCodeAt(at + 3) !== 0x3a || at + 6 !== text.length) return false;
  if (y <= 1000 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return false;
  parts[0] = y;
  parts[1] = m;
  parts[2] = d;
  return time((h12 % 12) + (half === 0x4e0b ? 12 : 0), digitsAt(text, at + 1, 2), digitsAt(text, at + 4, 2));
}

/** Puts h, mi, s into parts after the date, when they are a time of day; whether they are. */
function time(h: number, mi: number, s: number): boolean {
  if (!(h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59)) return false;
  parts[3] = h;
  parts[4] = mi;
  parts[5] = s;
  return true;
}

/** A UTC instant as legacy text: 'YYYY-MM-DD HH:MM:SS' in Asia/Taipei. */
export function formatLegacyTimestamp(date: Date): string {
  return new Date(date.getTime() + TAIPEI_OFFSET_HOURS * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A legacy 'YYYY-MM-DD' date, checked. */
export function parseLegacyDate(text: string, column: string): string {
  // The form every row has, read without a regular expression; the rest (padded, invalid) below.
  if (text.length === 10 && plainDate(text)) return text;
  const t = trimLegacy(text);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (!m) throw new RuleError(`unparseable ${column} '${t}'`);
  taipeiToUtc(+m[1], +m[2], +m[3], 0, 0, 0, t, column);
  return t;
}

/** Rule 5: districts split on 、 , ， / and whitespace; trimmed, no empties, first occurrence kept. */
export function splitFamiliarAreas(text: string | null): string[] {
  if (text === null) return [];
  const seen = new Set<string>();
  for (const part of text.split(/[、,，/\s\u3000]+/)) {
    const p = trimLegacy(part);
    if (p !== '') seen.add(p);
  }
  return [...seen];
}

export const STATUS_TO_NEW = {
  待配送: 'pending',
  已派車: 'assigned',
  已送達: 'delivered',
  已取消: 'cancelled',
} as const;
export type OrderStatus = (typeof STATUS_TO_NEW)[keyof typeof STATUS_TO_NEW];
export const STATUS_TO_LEGACY: Record<OrderStatus, string> = Object.fromEntries(
  Object.entries(STATUS_TO_NEW).map(([legacy, status]) => [status, legacy]),
) as Record<OrderStatus, string>;

/** Rule 6. */
export function mapStatus(text: string): OrderStatus {
  const t = trimLegacy(text);
  // Own keys only: 'constructor', 'toString', ... are not statuses.
  if (!Object.prototype.hasOwnProperty.call(STATUS_TO_NEW, t)) throw new RuleError(`unknown status '${t}'`);
  return (STATUS_TO_NEW as Record<string, OrderStatus>)[t];
}

export const NULLABLE = Object.freeze({ nullable: true });
const NOT_NULLABLE = Object.freeze({ nullable: false });

/** Rule 7 and the integer columns: a whole number, or the row is held back. `NULLABLE`: NULL is allowed (the options are constants: an object per call was a tenth of what converting a row allocated). */
export function toInteger(value: unknown, column: string, { nullable }: { nullable: boolean } = NOT_NULLABLE): number | null {
  if (value === null || value === undefined) {
    if (nullable) return null;
    throw new RuleError(`${column} is NULL`);
  }
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) return Number(value.trim());
  throw new RuleError(`${column} is not a whole number: ${JSON.stringify(String(value))}`);
}

/** Rule 7. */
export function toBoolean(value: unknown, column: string): boolean {
  const n = toInteger(value, column);
  if (n === 1) return true;
  if (n === 0) return false;
  throw new RuleError(`${column} must be 0 or 1, got ${n}`);
}
