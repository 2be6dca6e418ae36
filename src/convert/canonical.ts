import { createHash } from 'node:crypto';
import type { NewValues, TableMapping } from './tables';

/**
 * A canonical form of a row's mapped values, whatever side it comes from (a legacy row
 * mapped by the contract, a PostgreSQL row as `to_jsonb` gives it, a merge base), its hash
 * and the fields two forms differ in: what the merge, the consistency check and the rollback
 * compare. No I/O here.
 */

export type CanonicalValue = string | number | boolean | string[] | null;
export type Canonical = Record<string, CanonicalValue>;

/** The columns compared for a table: the mapped new columns, then the parent id columns. */
export function comparedColumns(mapping: TableMapping): string[] {
  return [...Object.keys(mapping.newColumns), ...mapping.parents.map((p) => p.newColumn)];
}

/** The SQL type of a compared column (parents are integer ids). */
export function columnType(mapping: TableMapping, column: string): string {
  return mapping.newColumns[column] ?? 'integer';
}

/**
 * One value in canonical form, by the column's SQL type: instants as ISO-8601 UTC to the
 * second (the legacy file's resolution: an order written back keeps its seconds only), dates as 'YYYY-MM-DD', integers as numbers, booleans as booleans, arrays as
 * arrays of strings, text as is. What cannot be read as its type stays a string, so it
 * differs from any well-formed value instead of being silently coerced.
 */
export function canonicalValue(type: string, v: unknown): CanonicalValue {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'timestamptz':
      return (typeof v === 'string' && utcSecond(v)) || canonicalInstant(v);
    case 'date': {
      if (v instanceof Date) return v.toISOString().slice(0, 10);
      const m = /^(\d{4}-\d{2}-\d{2})/.exec(String(v));
      return m ? m[1] : String(v);
    }
    case 'integer': {
      const n = typeof v === 'number' ? v : Number(v);
      return Number.isFinite(n) ? n : String(v);
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : v === 't' || v === 'true' ? true : v === 'f' || v === 'false' ? false : String(v);
    case 'text[]':
      return Array.isArray(v) ? v.map((x) => (x === null ? '\u0000NULL' : String(x))) : String(v);
    default:
      return String(v);
  }
}

function canonicalInstant(v: unknown): string {
  const t = v instanceof Date ? v.getTime() : Date.parse(String(v));
  return Number.isNaN(t) ? String(v) : new Date(Math.floor(t / 1000) * 1000).toISOString();
}

// An instant already written in UTC, as `to_jsonb` and the legacy mapping write them. Only
// fields that cannot roll over: Date.parse takes 2031-02-30 for March 2 and 24:00 for the next
// day, so those and any other form go the long way, with the same result.
const UTC_SECOND = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|\+00:00)$/;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digits2 = (v: string, at: number) => (v.charCodeAt(at) - 48) * 10 + v.charCodeAt(at + 1) - 48;

/** The canonical form of an instant written in UTC, without parsing it: a cycle compares thousands (profiled: most of a merge's time). */
function utcSecond(v: string): string | null {
  if (!UTC_SECOND.test(v)) return null;
  const day = digits2(v, 8);
  if (day > 28) {
    const year = Number(v.slice(0, 4));
    const month = digits2(v, 5);
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (day > MONTH_DAYS[month - 1] + (month === 2 && leap ? 1 : 0)) return null;
  }
  return `${v.slice(0, 19)}.000Z`;
}

/**
 * Whether two values of a column are the same in canonical form. Most compared values are
 * the very same (base against the row as it is, both from `to_jsonb`): those need no
 * canonical form, which for an instant is a parse and a format.
 */
export function sameValue(type: string, a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const x = canonicalValue(type, a);
  const y = canonicalValue(type, b);
  return Array.isArray(x) || Array.isArray(y) ? JSON.stringify(x) === JSON.stringify(y) : x === y;
}

/** A PostgreSQL row (as `to_jsonb` gives it) in canonical form, over the compared columns. */
export function canonicalFromNew(mapping: TableMapping, row: Record<string, unknown>): Canonical {
  const out: Canonical = {};
  for (const c of comparedColumns(mapping)) out[c] = canonicalValue(columnType(mapping, c), row[c]);
  return out;
}

/** A legacy row mapped by the contract (parents resolved to new ids) in canonical form. */
export function canonicalFromMapped(mapping: TableMapping, values: NewValues, parentIds: Record<string, number | null>): Canonical {
  const out: Canonical = {};
  for (const c of Object.keys(mapping.newColumns)) out[c] = canonicalValue(columnType(mapping, c), values[c]);
  for (const p of mapping.parents) out[p.newColumn] = canonicalValue('integer', parentIds[p.newColumn] ?? null);
  return out;
}

/** Stable JSON: object keys sorted at every level. */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

/** Hash of a canonical row over the given columns, in that order. */
export function canonicalHash(row: Canonical, columns: string[]): string {
  const h = createHash('sha1');
  for (const c of columns) {
    h.update(c);
    h.update('\u0000');
    h.update(stableStringify(row[c] ?? null));
    h.update('\u0001');
  }
  return h.digest('hex');
}

/** The columns whose canonical values differ. */
export function diffFields(expected: Canonical, actual: Canonical, columns: string[]): string[] {
  return columns.filter((c) => stableStringify(expected[c] ?? null) !== stableStringify(actual[c] ?? null));
}
