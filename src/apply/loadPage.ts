import { eachPageRow, type RawPage } from '../capture/legacyReader';
import { columnsHasher } from '../capture/rawRow';
import type { TableConfig } from '../config/tables';
import { writtenColumns } from '../convert/tables';
import { autoTextValues, convertRow, type HeldRow } from '../convert/toNew';
import { addEvidence, type TableEvidence } from '../encoding/cp950';
import type { EudcMap } from '../encoding/eudc';
import { insertedKey, legacyValues, type IdLookup } from '../reconcile/toNew';
import { BinaryCopy, copyTypeOf, type CopyType } from './copyBinary';

/**
 * One page of a load into an empty table, made ready for PostgreSQL (see bulkLoad.ts):
 * decoded, converted, reconciled against an empty table (every row an insert, or held back,
 * or waiting for its parent) and written as binary COPY data for the table and for the rows'
 * states. Pure, so that pages can be prepared on other threads than the one that loads them.
 */

export interface LoadTable {
  cfg: TableConfig;
  eudc: EudcMap;
  /** Per parent's new column: legacy id → new id. */
  parents: Map<string, IdLookup>;
  /** Natural keys the load has inserted so far, with their legacy ids: a second row with one is held back. */
  insertedKeys: Map<string, number>;
}

export interface PreparedPage {
  /** COPY data of the table's rows, ids not yet given: each is at one of `idAt`. */
  rows: Uint8Array;
  idAt: Uint32Array;
  /** COPY data of sync_row_state. */
  states: Uint8Array;
  held: HeldRow[];
  waiting: { legacyId: number; reason: string }[];
  /** Legacy ids read and settled (held back or inserted: out of every row queue); the waiting ones are not among them. */
  read: number[];
  /** Rows the page had. */
  count: number;
  lastId: number;
}

/** The columns of a load's COPY, in order: id and legacy_id first (see prepareLoadPage), then what the sync writes. */
export function loadColumns(cfg: TableConfig): string[] {
  return ['id', ...writtenColumns(cfg.mapping)];
}

export const STATE_COLUMNS = 'table_name, legacy_id, content_hash, legacy_ts';

/** About what a row and its state take as COPY data: the first size of a page's buffers. */
export const ROW_BYTES = 160;
export const STATE_BYTES = 90;

const NO_OWNERS = new Map<string, { id: number; legacyId: number | null }>();
/** Where a tuple's first value (its id, a 4-byte integer) is: after the field count (2 bytes) and its length (4). */
const ID_OFFSET = 6;

/**
 * Row by row, each row's intermediate values dropped before the next (what survives a page is
 * its raw bytes and the COPY data): what convertBatch and planToNew do for a batch, against an
 * empty table. What the page's rows prove about the table's encoding is read in a pass of its
 * own, and only when a value first needs it (most pages have none that does), rather than
 * holding a page's worth of row objects that every young collection would copy (and, a page
 * being larger than the young generation, move to the old one).
 */
export function prepareLoadPage(t: LoadTable, page: RawPage, into?: { rows: Buffer; states: Buffer }): PreparedPage {
  const { cfg } = t;
  const mapping = cfg.mapping;
  let evidence: TableEvidence | undefined;
  const pageEvidence = (): TableEvidence => {
    if (evidence) return evidence;
    const e: TableEvidence = { cp950Rows: 0, utf8Rows: 0 };
    eachPageRow(mapping, page, (raw) => addEvidence(e, autoTextValues(raw, mapping, cfg.textColumns)));
    return (evidence = e);
  };
  const columns = loadColumns(cfg);
  const types = typesOf(cfg, columns);
  const out = new BinaryCopy(page.count * ROW_BYTES, into?.rows);
  const states = new BinaryCopy(page.count * STATE_BYTES, into?.states);
  const idAt: number[] = [];
  const held: HeldRow[] = [];
  const waiting: { legacyId: number; reason: string }[] = [];
  const read: number[] = [];
  const owners = { cfg, parents: t.parents, keyOwners: NO_OWNERS };
  // A page's rows have the mapping's columns in order: their hash by code made for those columns.
  const hashOf = columnsHasher(mapping.legacyColumns.map((c) => c.name));
  eachPageRow(mapping, page, (raw) => {
    const c = convertRow(raw, mapping, cfg.textColumns, t.eudc, pageEvidence, hashOf);
    if (!c.ok) {
      held.push(c.held);
      read.push(raw.id);
      return;
    }
    const r = legacyValues(owners, c.row, t.insertedKeys);
    if ('waiting' in r) {
      waiting.push({ legacyId: raw.id, reason: r.waiting });
      return;
    }
    read.push(raw.id);
    if ('held' in r) {
      held.push(r.held);
      return;
    }
    insertedKey(mapping, t.insertedKeys, raw.id, r.values);
    idAt.push(out.tuple(columns.length) + ID_OFFSET);
    out.value('integer', 0);
    out.value('integer', raw.id);
    for (let i = 2; i < columns.length; i++) out.value(types[i], r.values[columns[i]]);
    states.tuple(4);
    states.text(mapping.legacyTable);
    states.value('integer', raw.id);
    states.text(c.row.hash);
    states.value('text', c.row.ts);
  });
  return { rows: out.finish(), idAt: Uint32Array.from(idAt), states: states.finish(), held, waiting, read, count: page.count, lastId: page.lastId };
}

const typeCache = new WeakMap<TableConfig, CopyType[]>();
function typesOf(cfg: TableConfig, columns: string[]): CopyType[] {
  let types = typeCache.get(cfg);
  if (!types) typeCache.set(cfg, (types = columns.map((c) => copyTypeOf(c === 'id' || c === 'legacy_id' ? 'integer' : (cfg.mapping.newColumns[c] ?? 'integer')))));
  return types;
}
