/**
 * Rows in PostgreSQL's binary COPY format, for the load's COPY ... FROM STDIN (FORMAT binary):
 * PostgreSQL reads binary integers and timestamps without parsing text (a third less of its
 * work on a load), and writing them costs less than formatting text here.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const PG_EPOCH_DAYS = PG_EPOCH_MS / 86_400_000;
const TEXT_OID = 25;

/** How a value of a column's SQL type is written (the sync's values: numbers, booleans, strings, arrays of strings). */
export type CopyType = 'integer' | 'text' | 'boolean' | 'timestamptz' | 'date' | 'text[]' | 'enum';

export const copyTypeOf = (sqlType: string): CopyType =>
  sqlType === 'integer' || sqlType === 'text' || sqlType === 'boolean' || sqlType === 'timestamptz' || sqlType === 'date' || sqlType === 'text[]' ? sqlType : 'enum';

/** A growing buffer of binary COPY data: the header, then tuples; `finish` adds the trailer. */
export class BinaryCopy {
  private buf: Buffer;
  private at = 0;
  rows = 0;

  /** `into`: memory to write into (reused from page to page) until the data outgrows it. */
  constructor(sizeHint = 1 << 20, into?: Buffer) {
    // Never a slice of Node's shared pool: the data may be handed to another thread.
    this.buf = into && into.length >= 64 ? into : Buffer.allocUnsafeSlow(Math.max(sizeHint, 64));
    this.bytes(SIGNATURE);
    this.int32(0); // flags
    this.int32(0); // header extension length
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  private bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** Big-endian, byte by byte: writeInt32BE's checks cost more than the write (millions of calls per load). */
  private int32(v: number): void {
    this.room(4);
    const b = this.buf;
    const at = this.at;
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
    this.at = at + 4;
  }

  /** Starts a tuple of `fields` values; where it starts in the data. */
  tuple(fields: number): number {
    this.room(2);
    const start = this.at;
    this.buf.writeInt16BE(fields, this.at);
    this.at += 2;
    this.rows++;
    return start;
  }

  /** One value, by its column's type; null and undefined are NULL. */
  value(type: CopyType, v: unknown): void {
    if (v === null || v === undefined) return this.int32(-1);
    switch (type) {
      case 'integer':
        this.int32(4);
        return this.int32(v as number);
      case 'boolean':
        this.int32(1);
        this.room(1);
        this.buf[this.at++] = v ? 1 : 0;
        return;
      case 'timestamptz':
        return this.timestamptz(v as string);
      case 'date':
        this.int32(4);
        return this.int32(daysOf(v as string) - PG_EPOCH_DAYS);
      case 'text[]':
        return this.textArray(v as string[]);
      default:
        return this.text(String(v));
    }
  }

  /** Text (and enum labels, which binary COPY takes as text): its UTF-8 bytes. Short ASCII (dates, codes, hashes) is copied by hand, cheaper than an encoder call. */
  text(s: string): void {
    this.room(4 + s.length * 3);
    const start = this.at;
    const b = this.buf;
    let n = -1;
    if (s.length <= 64) {
      n = 0;
      for (; n < s.length; n++) {
        const c = s.charCodeAt(n);
        if (c >= 0x80) break;
        b[start + 4 + n] = c;
      }
      if (n < s.length) n = -1;
    }
    if (n < 0) n = b.write(s, start + 4, 'utf8');
    this.at = start;
    this.int32(n);
    this.at = start + 4 + n;
  }

  /** An instant given as ISO-8601 UTC text: microseconds since 2000-01-01 as a 64-bit integer. */
  private timestamptz(iso: string): void {
    // Microseconds past 2^53 (years after 2285) are not exact in a double: the milliseconds'
    // high and low 32 bits are multiplied by 1000 each, and the low product carried.
    const ms = msOf(iso) - PG_EPOCH_MS;
    const msHi = Math.floor(ms / 0x1_0000_0000);
    const lowUs = (ms - msHi * 0x1_0000_0000) * 1000;
    const carry = Math.floor(lowUs / 0x1_0000_0000);
    this.int32(8);
    this.int32(msHi * 1000 + carry);
    this.room(4);
    this.buf.writeUInt32BE(lowUs - carry * 0x1_0000_0000, this.at);
    this.at += 4;
  }

  /** A one-dimensional text array (no NULL elements: the sync writes none). */
  private textArray(items: string[]): void {
    const start = this.at;
    this.int32(0); // length, set below
    this.int32(items.length === 0 ? 0 : 1); // dimensions
    this.int32(0); // has nulls
    this.int32(TEXT_OID);
    if (items.length > 0) {
      this.int32(items.length);
      this.int32(1); // lower bound
      for (const s of items) this.text(s);
    }
    this.buf.writeInt32BE(this.at - start - 4, start);
  }

  /** The data with its trailer (a view of the writer's own buffer, or of `into` if it held them); the writer is done. */
  finish(): Buffer {
    this.room(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
    return this.buf.subarray(0, this.at);
  }
}

const digits = (s: string, at: number, n: number) => {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + s.charCodeAt(i) - 0x30;
  return v;
};

/** Milliseconds since 1970 of ISO-8601 UTC text; toISOString's own form ('YYYY-MM-DDTHH:MM:SS.sssZ') read digit by digit, any other by Date.parse. */
function msOf(iso: string): number {
  if (iso.length !== 24 || iso.charCodeAt(10) !== 0x54 || iso.charCodeAt(23) !== 0x5a) return Date.parse(iso);
  const days = daysFromCivil(digits(iso, 0, 4), digits(iso, 5, 2), digits(iso, 8, 2));
  return ((days * 24 + digits(iso, 11, 2)) * 60 + digits(iso, 14, 2)) * 60_000 + digits(iso, 17, 2) * 1000 + digits(iso, 20, 3);
}

/** Days since 1970-01-01 of a 'YYYY-MM-DD' date. */
function daysOf(date: string): number {
  return daysFromCivil(digits(date, 0, 4), digits(date, 5, 2), digits(date, 8, 2));
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian year, month (1-12) and day, by arithmetic
 * (the days_from_civil algorithm): Date.UTC, a call into V8's runtime, was a tenth of
 * preparing a row. A day past its month's end runs on into the next, as with Date.UTC.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
}
