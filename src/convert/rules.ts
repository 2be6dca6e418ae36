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

/** A UTC instant as legacy text: 'YYYY-MM-DD HH:MM:SS' in Asia/Taipei. */
export function formatLegacyTimestamp(date: Date): string {
  return new Date(date.getTime() + TAIPEI_OFFSET_HOURS * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A legacy 'YYYY-MM-DD' date, checked. */
export function parseLegacyDate(text: string, column: string): string {
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

/** Rule 7 and the integer columns: a whole number, or the row is held back. */
export function toInteger(value: unknown, column: string, { nullable = false } = {}): number | null {
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
