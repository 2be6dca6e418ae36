import { createHash } from 'node:crypto';

/**
 * A legacy row as captured: text columns as raw bytes (never through a driver's UTF-8
 * decoding), the rest as SQLite stored them. Both roles use it: the legacy agent reads and
 * writes rows in this form, the core converts them.
 */
export interface RawRow {
  id: number;
  cols: Record<string, Buffer | number | bigint | string | null>;
}

/** A raw row in a JSON-safe form that keeps every byte: text as hex (journal images, held-back rows). */
export type RawImage = Record<string, string | number | null>;

export function rawImage(row: RawRow): RawImage {
  const out: RawImage = { id: row.id };
  for (const [k, v] of Object.entries(row.cols)) {
    out[k] = Buffer.isBuffer(v) ? v.toString('hex') : typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

/**
 * Hash of a legacy row's content, `updated_at` aside (touching a row without changing it is
 * not a change of content). Equal hashes mean the row needs no write.
 */
export function contentHash(row: RawRow): string {
  const h = createHash('sha1');
  // Column order is the reader's select list, the same for every row of a table. The text
  // between byte values is hashed in one piece: the same bytes, far fewer calls.
  let text = '';
  for (const k of Object.keys(row.cols)) {
    if (k === 'updated_at') continue;
    const v = row.cols[k];
    if (Buffer.isBuffer(v)) {
      h.update(`${text}\u0001${k}\u0000B`);
      h.update(v);
      text = '';
    } else {
      text += v === null ? `\u0001${k}\u0000N` : `\u0001${k}\u0000V${String(v)}`;
    }
  }
  if (text) h.update(text);
  return h.digest('hex');
}

/** The raw `updated_at` text: what a touch changes. */
export function updatedAtOf(row: RawRow): string {
  const v = row.cols.updated_at;
  return Buffer.isBuffer(v) ? v.toString('latin1') : String(v ?? '');
}

/**
 * Equality of two raw images (text as hex of its bytes, integers as numbers) over the given
 * keys; null stands for "no row". Numbers and numeric strings of the same value are equal (a
 * JSON round trip may turn one into the other); hex is compared case-insensitively.
 */
export function imagesEqual(a: RawImage | null, b: RawImage | null, keys: string[]): boolean {
  if (a === null || b === null) return a === b;
  return keys.every((k) => {
    const x = a[k] ?? null;
    const y = b[k] ?? null;
    if (x === null || y === null) return x === y;
    if (typeof x === 'number' || typeof y === 'number') return Number(x) === Number(y);
    return String(x).toLowerCase() === String(y).toLowerCase();
  });
}

/** The keys whose values differ between two raw images (for conflict reports). */
export function imageDiff(a: RawImage | null, b: RawImage | null, keys: string[]): string[] {
  if (a === null || b === null) return a === b ? [] : ['(row)'];
  return keys.filter((k) => !imagesEqual({ [k]: a[k] ?? null }, { [k]: b[k] ?? null }, [k]));
}
