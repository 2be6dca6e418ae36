import { chooseReading, readings, rowHint, tableEvidence, type BatchEvidence, type Readings, type TableEvidence, type TextEncodingMode } from '../encoding/cp950';
import type { EudcMap } from '../encoding/eudc';
import { contentHash, rawImage, updatedAtOf, type RawImage, type RawRow } from '../capture/rawRow';
import { RuleError } from './rules';
import { columnPlaces, columnRecord, columnValues, type DecodedRow, type NewValues, type TableMapping } from './tables';

/**
 * Convert, legacy → new: a raw legacy row's bytes decoded (CP950 with the EUDC map, or
 * UTF-8) and mapped by the contract's rules. Pure; a value that cannot be converted exactly
 * holds its row back with the reason.
 */

export interface ConvertedRow {
  legacyId: number;
  hash: string;
  /** The raw updated_at text: a newer one over the same content is a touch. */
  ts: string;
  values: NewValues;
  /** Legacy ids of the parents, by legacy column (client_id, driver_id). */
  parents: Record<string, number | null>;
}

export type HeldKind = 'decode' | 'rule' | 'key_collision' | 'encode' | 'missing_parent';

export interface HeldRow {
  /** The legacy id (legacy → new) or the order id (new → legacy). */
  legacyId: number;
  hash: string;
  reasonKind: HeldKind;
  reason: string;
  /** The row's raw values: text bytes as hex, others as stored. */
  raw: RawImage | Record<string, unknown>;
}

export type ConversionResult = { ok: true; row: ConvertedRow } | { ok: false; held: HeldRow };

/** A text column's mode: 'auto' unless configured otherwise. */
const modeOf = (encodings: Record<string, TextEncodingMode>, column: string): TextEncodingMode => encodings[column] ?? 'auto';

/** The raw values of a row's text columns in 'auto' mode: what proves the row's encoding. */
export function autoTextValues(row: RawRow, mapping: TableMapping, encodings: Record<string, TextEncodingMode>): Buffer[] {
  // A plain loop: this runs for every row of every batch.
  const values: Buffer[] = [];
  for (const col of mapping.legacyColumns) {
    const v = row.cols[col.name];
    if (col.kind === 'text' && Buffer.isBuffer(v) && modeOf(encodings, col.name) === 'auto') values.push(v);
  }
  return values;
}

/** The modes of a mapping's text columns, in columnPlaces' order, worked out once per table configuration rather than per value. */
const modesCache = new WeakMap<TableMapping, WeakMap<Record<string, TextEncodingMode>, TextEncodingMode[]>>();
function textModesOf(mapping: TableMapping, encodings: Record<string, TextEncodingMode>): TextEncodingMode[] {
  let byEncodings = modesCache.get(mapping);
  if (!byEncodings) modesCache.set(mapping, (byEncodings = new WeakMap()));
  let modes = byEncodings.get(encodings);
  if (!modes) byEncodings.set(encodings, (modes = columnPlaces(mapping).texts.map((i) => modeOf(encodings, mapping.legacyColumns[i].name))));
  return modes;
}

/**
 * Decodes a raw row's text and maps it by the contract's rules; a failure holds the row back.
 * `table`: what the other rows of its batch prove (tableEvidence of autoTextValues), when known.
 * `hashOf`: contentHash, or the same made for the rows' columns (columnsHasher) where each row has them in order.
 */
export function convertRow(
  row: RawRow,
  mapping: TableMapping,
  encodings: Record<string, TextEncodingMode>,
  eudc: EudcMap,
  table?: BatchEvidence,
  hashOf: (row: RawRow) => string = contentHash,
): ConversionResult {
  const { ints, texts } = columnPlaces(mapping);
  const modes = textModesOf(mapping, encodings);
  // The row's values in column order, each replaced by what it decodes to.
  const values: (RawRow['cols'][string] | Readings)[] = columnValues<RawRow['cols'][string]>(mapping)(row.cols);
  // Each text value read once: ASCII is its own text in every encoding and mode; other bytes both ways.
  // (A raw row's only objects are Buffers: typeof is cheaper than Buffer.isBuffer, an instanceof.)
  let auto: Readings[] | null = null;
  for (let t = 0; t < texts.length; t++) {
    const v = values[texts[t]] as RawRow['cols'][string]; // as read: no Readings yet
    if (v === null || typeof v !== 'object') continue;
    if (isAscii(v)) {
      values[texts[t]] = v.toString('latin1');
      continue;
    }
    const r = readings(v, eudc);
    values[texts[t]] = r;
    if (modes[t] === 'auto') (auto ??= []).push(r);
  }
  // The row's proof then settles the ambiguous values.
  const hint = auto ? rowHint(auto) : undefined;
  for (let t = 0; t < texts.length; t++) {
    const r = values[texts[t]];
    if (r === null || typeof r !== 'object') continue;
    const d = chooseReading(r as Readings, modes[t], eudc, hint, table);
    if (!d.ok) return hold(row, hashOf, 'decode', `${mapping.legacyColumns[texts[t]].name}: ${d.reason}`);
    values[texts[t]] = d.value;
  }
  // Bytes in any other column (SQLite keeps what it is given) as the text they are.
  for (const i of ints) {
    const v = values[i];
    if (v !== null && typeof v === 'object') values[i] = (v as Buffer).toString('latin1');
  }
  const decoded: DecodedRow = columnRecord<DecodedRow[string]>(mapping)(values as DecodedRow[string][]);
  try {
    const values = mapping.map(decoded);
    const parents: Record<string, number | null> = {};
    for (const p of mapping.parents) {
      const v = decoded[p.column];
      parents[p.column] = v === null ? null : Number(v);
    }
    return { ok: true, row: { legacyId: row.id, hash: hashOf(row), ts: updatedAtOf(row), values, parents } };
  } catch (err) {
    if (err instanceof RuleError) return hold(row, hashOf, 'rule', err.message);
    throw err;
  }
}

function hold(row: RawRow, hashOf: (row: RawRow) => string, reasonKind: HeldKind, reason: string): ConversionResult {
  return { ok: false, held: { legacyId: row.id, hash: hashOf(row), reasonKind, reason, raw: rawImage(row) } };
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

export interface ConvertedBatch {
  converted: ConvertedRow[];
  /** Rows decoding or mapping held back. */
  held: HeldRow[];
  /** Legacy ids whose row is gone (trigger mode, rows read again by id). */
  deleted: number[];
}

/**
 * Converts a captured batch. The raw rows are not needed after it: callers pass them in one
 * expression, so they can be collected while the batch is applied.
 */
export function convertBatch(
  mapping: TableMapping,
  encodings: Record<string, TextEncodingMode>,
  eudc: EudcMap,
  batch: { rows: RawRow[]; deleted: number[] },
): ConvertedBatch {
  const converted: ConvertedRow[] = [];
  const held: HeldRow[] = [];
  const table = batchEvidence(mapping, encodings, batch.rows);
  for (const row of batch.rows) {
    const r = convertRow(row, mapping, encodings, eudc, table);
    if (r.ok) converted.push(r.row);
    else held.push(r.held);
  }
  return { converted, held, deleted: batch.deleted };
}

/** What a batch's rows prove about the table's encoding: it settles values their own row cannot (see chooseReading). */
export function batchEvidence(mapping: TableMapping, encodings: Record<string, TextEncodingMode>, rows: RawRow[]): TableEvidence {
  return tableEvidence(rows.map((row) => autoTextValues(row, mapping, encodings)));
}
