import { createHash } from 'node:crypto';
import { chooseReading, readings, rowHint, type Readings, type TextEncodingMode } from '../encoding/cp950';
import type { EudcMap } from '../encoding/eudc';
import { RuleError } from './rules';
import type { DecodedRow, NewValues, TableMapping } from './tables';

/** A legacy row as read: text columns as raw bytes, the rest as SQLite stored them. */
export interface RawRow {
  id: number;
  cols: Record<string, Buffer | number | bigint | string | null>;
}

export interface ConvertedRow {
  legacyId: number;
  hash: string;
  values: NewValues;
  /** Legacy ids of the parents, by legacy column (client_id, driver_id). */
  parents: Record<string, number | null>;
}

export interface HeldRow {
  legacyId: number;
  hash: string;
  reasonKind: 'decode' | 'rule' | 'missing_parent' | 'key_collision' | 'encode';
  reason: string;
  /** The row's raw values: text bytes as hex, others as stored. */
  raw: Record<string, string | number | null>;
}

export type ConversionResult = { ok: true; row: ConvertedRow } | { ok: false; held: HeldRow };

/** Raw values in a JSON-safe form that keeps every byte: text as hex. */
export function rawImage(row: RawRow): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = { id: row.id };
  for (const [k, v] of Object.entries(row.cols)) {
    out[k] = Buffer.isBuffer(v) ? v.toString('hex') : typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

/**
 * Hash of a legacy row's content, `updated_at` aside (touching a row without changing it is
 * not a change). Equal hashes mean the row needs no write.
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

/** Decodes a raw row's text and maps it by the contract's rules; a failure holds the row back. */
export function convertRow(
  row: RawRow,
  mapping: TableMapping,
  encodings: Record<string, TextEncodingMode>,
  eudc: EudcMap,
): ConversionResult {
  const hash = contentHash(row);
  const hold = (reasonKind: HeldRow['reasonKind'], reason: string): ConversionResult => ({
    ok: false,
    held: { legacyId: row.id, hash, reasonKind, reason, raw: rawImage(row) },
  });
  // Each text value is read both ways once; the row's proof then settles ambiguous values.
  const texts = new Map<string, Readings>();
  const auto: Readings[] = [];
  for (const col of mapping.legacyColumns) {
    const v = row.cols[col.name];
    if (col.kind !== 'text' || !Buffer.isBuffer(v)) continue;
    const r = readings(v, eudc);
    texts.set(col.name, r);
    if ((encodings[col.name] ?? 'auto') === 'auto') auto.push(r);
  }
  const hint = rowHint(auto);
  const decoded: DecodedRow = {};
  for (const col of mapping.legacyColumns) {
    const r = texts.get(col.name);
    if (r) {
      const d = chooseReading(r, encodings[col.name] ?? 'auto', eudc, hint);
      if (!d.ok) return hold('decode', `${col.name}: ${d.reason}`);
      decoded[col.name] = d.value;
    } else {
      const v = row.cols[col.name];
      decoded[col.name] = Buffer.isBuffer(v) ? v.toString('latin1') : (v ?? null);
    }
  }
  try {
    const values = mapping.map(decoded);
    const parents: Record<string, number | null> = {};
    for (const p of mapping.parents) {
      const v = decoded[p.column];
      parents[p.column] = v === null ? null : Number(v);
    }
    return { ok: true, row: { legacyId: row.id, hash, values, parents } };
  } catch (err) {
    if (err instanceof RuleError) return hold('rule', err.message);
    throw err;
  }
}
