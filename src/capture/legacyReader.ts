import type Database from 'better-sqlite3';
import { columnPlaces, columnRecord, type TableMapping } from '../convert/tables';
import type { Cursor } from '../shared';
import { updatedAtOf, type RawRow } from './rawRow';

/**
 * Capture, legacy side: pages of legacy rows (timestamp pages, trigger-queue pages, id
 * ranges, rows by id) and what a plan needs to know of a table. Text columns come back as
 * raw bytes (CAST AS BLOB), never through the driver's UTF-8 decoding, which would destroy
 * CP950 values.
 *
 * A page travels as one blob SQLite builds itself (see RawPage): the driver hands over one
 * value per page instead of one per cell, which is most of what reading cost, and the claim
 * carries bytes instead of objects.
 */

/**
 * A page of raw rows: per row, `id,int,...,int,len,...,len;` (integer columns as SQLite's
 * decimal text, empty for NULL; the byte length of each text column, -1 for NULL) then the
 * text columns' bytes, back to back. A row whose integer column holds anything but an integer
 * (SQLite stores what it is given) is read again column by column and travels in `irregular`,
 * its record marked with '!'.
 */
export interface RawPage {
  blob: Buffer;
  count: number;
  /** The largest id on the page (0 when empty). */
  lastId: number;
  irregular: RawRow[];
}

export interface Page {
  page: RawPage;
  rows: RawRow[];
  /** Legacy ids whose row is gone (trigger mode). */
  deleted: number[];
  next: Cursor;
  /** Fewer than a page was left. */
  done: boolean;
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepare(db: Database.Database, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

const IRREGULAR = 0x21; // '!'

/** The SELECT of a page's rows (`filter` over the table, in `order` of its columns, a LIMIT parameter last) as one blob in RawPage's layout. */
function pageSql(mapping: TableMapping, filter: string, order: string[]): string {
  // One concat call per record rather than a chain of ||, each of which copied the record so
  // far (a sixth of the read). octet_length is length(CAST(... AS BLOB)) without the cast; concat
  // takes NULL as empty, and no head value is NULL.
  const head = [
    'id',
    ...mapping.legacyColumns.filter((c) => c.kind === 'integer').map((c) => `CASE typeof(${c.name}) WHEN 'integer' THEN ${c.name} WHEN 'null' THEN '' ELSE '!' END`),
    ...mapping.legacyColumns.filter((c) => c.kind === 'text').map((c) => `COALESCE(octet_length(${c.name}), -1)`),
  ].join(', ');
  const bytes = mapping.legacyColumns.filter((c) => c.kind === 'text').map((c) => `CAST(${c.name} AS BLOB)`);
  const by = order.join(', ');
  // group_concat takes the rows in the order the subquery yields them; an ORDER BY of its own
  // would sort them again (a third of the read). Only id pages go without it: nothing depends
  // on the order of their rows (their last id is max(id)), while a timestamp page's cursor is its last row.
  const concat = order.length === 1 && order[0] === 'id' ? `group_concat(r, '')` : `group_concat(r, '' ORDER BY ${by})`;
  return `SELECT CAST(${concat} AS BLOB) AS blob, count(*) AS count, COALESCE(max(id), 0) AS lastId
    FROM (SELECT ${[...new Set(['id', ...order])].join(', ')}, concat(concat_ws(',', ${head}), ';', ${bytes.join(', ')}) AS r
          FROM ${mapping.legacyTable} WHERE ${filter} ORDER BY ${by} LIMIT ?)`;
}

/** Rows column by column (the driver's values as they are): the irregular rows a page cannot hold. */
function readColumns(db: Database.Database, mapping: TableMapping, ids: number[]): RawRow[] {
  const cols = mapping.legacyColumns.map((c) => (c.kind === 'text' ? `CAST(${c.name} AS BLOB) AS ${c.name}` : c.name));
  const sql = `SELECT id, ${cols.join(', ')} FROM ${mapping.legacyTable} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`;
  const names = mapping.legacyColumns.map((c) => c.name);
  return (prepare(db, sql).raw(true).all(JSON.stringify(ids)) as unknown[][]).map((values) => {
    const cols: RawRow['cols'] = {};
    for (let i = 0; i < names.length; i++) cols[names[i]] = values[i + 1] as RawRow['cols'][string];
    return { id: Number(values[0]), cols };
  });
}

/** One page: `params` for the filter, then the limit. */
function readPage(db: Database.Database, mapping: TableMapping, filter: string, order: string[], params: unknown[], limit: number): RawPage {
  const r = prepare(db, pageSql(mapping, filter, order)).get(...params, limit) as { blob: Buffer | null; count: number; lastId: number };
  const blob = r.blob ?? Buffer.alloc(0);
  const irregular = irregularIds(mapping, blob);
  return { blob, count: r.count, lastId: r.lastId, irregular: irregular.length ? readColumns(db, mapping, irregular) : [] };
}

/** Ids of the records marked irregular: rare, so looked for only when the blob holds a '!'. */
function irregularIds(mapping: TableMapping, blob: Buffer): number[] {
  if (blob.indexOf(IRREGULAR) < 0) return [];
  const ids: number[] = [];
  parsePage(mapping, blob, (id, values) => {
    if (values.some((v) => Number.isNaN(v))) ids.push(id);
  });
  return ids;
}

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const MINUS = 0x2d;

type ColumnValue = number | Buffer | null;

/**
 * Walks a page's records: for each, its id and its columns' values in the select list's order
 * (integers: null for NULL, NaN for the irregular mark; texts: views of the blob, no copy).
 * One pass over the bytes. `values` is the same array for every record, overwritten by the
 * next: the callback keeps none of it.
 */
function parsePage(mapping: TableMapping, blob: Buffer, record: (id: number, values: ColumnValue[]) => void): void {
  // A record holds its integers first, then its texts.
  const { ints, texts } = columnPlaces(mapping);
  const values = new Array<ColumnValue>(mapping.legacyColumns.length);
  const lens = new Array<number>(texts.length);
  const end = blob.length;
  let p = 0;
  while (p < end) {
    // Past the end a byte reads as undefined: a page cut short stops with an error, not a loop without end.
    const start = p;
    let id = 0;
    for (let b = blob[p]; b !== COMMA; b = blob[++p]) {
      if (b === undefined) throw cutShort(mapping, blob, start);
      id = id * 10 + b - 0x30;
    }
    p++;
    for (let i = 0; i < ints.length; i++) {
      let b = blob[p];
      if (b === COMMA) {
        values[ints[i]] = null;
        p++;
        continue;
      }
      const neg = b === MINUS;
      if (neg) b = blob[++p];
      let v = 0;
      for (; b !== COMMA; b = blob[++p]) {
        if (b === undefined) throw cutShort(mapping, blob, start);
        v = b >= 0x30 && b <= 0x39 ? v * 10 + b - 0x30 : NaN;
      }
      p++;
      values[ints[i]] = neg ? -v : v;
    }
    for (let i = 0; i < texts.length; i++) {
      let b = blob[p];
      const neg = b === MINUS;
      if (neg) b = blob[++p];
      let v = 0;
      for (; b !== COMMA && b !== SEMICOLON; b = blob[++p]) {
        if (b === undefined) throw cutShort(mapping, blob, start);
        v = v * 10 + b - 0x30;
      }
      p++;
      lens[i] = neg ? -v : v;
    }
    for (let i = 0; i < texts.length; i++) {
      const len = lens[i];
      if (len < 0) values[texts[i]] = null;
      else {
        if (p + len > end) throw cutShort(mapping, blob, start);
        values[texts[i]] = blob.subarray(p, p + len);
        p += len;
      }
    }
    record(id, values);
  }
}

function cutShort(mapping: TableMapping, blob: Buffer, start: number): Error {
  return new Error(`a page of ${mapping.legacyTable} is cut short: its record at byte ${start} runs past the page's end (${blob.length} bytes)`);
}

/** The rows of a page, in its order; irregular records are replaced by their rows read column by column. */
export function pageRows(mapping: TableMapping, page: RawPage): RawRow[] {
  const rows: RawRow[] = [];
  eachPageRow(mapping, page, (row) => rows.push(row));
  return rows;
}

/** The rows of a page one at a time, as pageRows gives them: a row the callback keeps nothing of dies young. */
export function eachPageRow(mapping: TableMapping, page: RawPage, fn: (row: RawRow) => void): void {
  const make = columnRecord<ColumnValue>(mapping);
  if (page.irregular.length === 0) {
    parsePage(mapping, page.blob, (id, values) => fn({ id, cols: make(values) }));
    return;
  }
  const irregular = new Map(page.irregular.map((r) => [r.id, r]));
  parsePage(mapping, page.blob, (id, values) => fn(irregular.get(id) ?? { id, cols: make(values) }));
}

/** The next page after the cursor, in (updated_at, id) order, which the updated_at index serves. */
export function readTimestampPage(db: Database.Database, mapping: TableMapping, cursor: Cursor, limit: number): Page {
  const page = readPage(db, mapping, '(updated_at, id) > (?, ?)', ['updated_at', 'id'], [cursor.ts ?? '', cursor.id], limit);
  const rows = pageRows(mapping, page);
  const last = rows.at(-1);
  return { page, rows, deleted: [], next: last ? { ts: updatedAtOf(last), id: last.id } : cursor, done: rows.length < limit };
}

/** Up to `limit` rows with ids in (afterId, toId] (toId null: no upper bound), in id order: load pages. */
export function readIdRange(db: Database.Database, mapping: TableMapping, afterId: number, toId: number | null, limit: number): RawPage {
  return readPage(db, mapping, 'id > ? AND id <= ?', ['id'], [afterId, toId ?? Number.MAX_SAFE_INTEGER], limit);
}

/**
 * Ends of the next `pages` pages of `pageSize` ids after `afterId` (a walk along the primary
 * key, no rows read), so that backfill pages are known in advance and can run side by side.
 * The last entry is null when fewer than a page's rows are left: that page runs to the end.
 */
export function idPageEnds(db: Database.Database, table: string, afterId: number, pageSize: number, pages: number): (number | null)[] {
  const next = prepare(db, `SELECT id FROM ${table} WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?`).pluck();
  const ends: (number | null)[] = [];
  let after = afterId;
  while (ends.length < pages) {
    const end = next.get(after, pageSize - 1) as number | undefined;
    if (end === undefined) {
      ends.push(null);
      break;
    }
    ends.push(end);
    after = end;
  }
  return ends;
}

/**
 * The newest (updated_at, id) of a table: where incremental reading goes on after a backfill.
 * Two lookups in the updated_at index (its greatest value, then the greatest id holding it):
 * `ORDER BY updated_at DESC, id DESC` had SQLite read the whole index and sort it (130 ms for
 * 1M rows). max() orders values as ORDER BY does.
 */
export function newestCursor(db: Database.Database, table: string): Cursor {
  const row = prepare(
    db,
    `SELECT CAST(updated_at AS BLOB) AS updated_at, id FROM ${table} WHERE updated_at IS (SELECT max(updated_at) FROM ${table}) ORDER BY id DESC LIMIT 1`,
  ).get() as
    | { updated_at: Buffer | null; id: number }
    | undefined;
  return row ? { ts: row.updated_at ? row.updated_at.toString('latin1') : '', id: row.id } : { ts: '', id: 0 };
}

/** Rows by id (row queues, trigger mode) as a page; ids not found are absent from it. */
export function readPageByIds(db: Database.Database, mapping: TableMapping, ids: number[]): RawPage {
  return readPage(db, mapping, 'id IN (SELECT value FROM json_each(?))', ['id'], [JSON.stringify(ids)], ids.length);
}

/** Rows by id; ids not found are absent from the result. */
export function readByIds(db: Database.Database, mapping: TableMapping, ids: number[]): RawRow[] {
  return ids.length === 0 ? [] : pageRows(mapping, readPageByIds(db, mapping, ids));
}

/** The next page of the trigger queue: changed rows as they are now, and the ids deleted. */
export function readQueuePage(db: Database.Database, mapping: TableMapping, cursor: Cursor, limit: number): Page {
  const entries = prepare(db, 'SELECT id, record_id FROM sync_queue WHERE table_name = ? AND id > ? ORDER BY id LIMIT ?').all(
    mapping.legacyTable,
    cursor.id,
    limit,
  ) as { id: number; record_id: number }[];
  if (entries.length === 0) return { page: { blob: Buffer.alloc(0), count: 0, lastId: 0, irregular: [] }, rows: [], deleted: [], next: cursor, done: true };
  // Several entries for one row collapse to its current state.
  const ids = [...new Set(entries.map((e) => e.record_id))];
  const page = readPageByIds(db, mapping, ids);
  const rows = pageRows(mapping, page);
  const found = new Set(rows.map((r) => r.id));
  return {
    page,
    rows,
    deleted: ids.filter((id) => !found.has(id)),
    next: { ts: null, id: entries.at(-1)!.id },
    done: entries.length < limit,
  };
}

/** The last sync_queue id (where trigger mode follows the queue from), or null without a queue. */
export function queuePosition(db: Database.Database): number | null {
  const has = prepare(db, `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_queue'`).get();
  if (!has) return null;
  return (prepare(db, 'SELECT COALESCE(max(id), 0) AS n FROM sync_queue').get() as { n: number }).n;
}

export function countRows(db: Database.Database, table: string): number {
  return (prepare(db, `SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** All legacy ids of a table, ascending, in chunks (deletion sweeps, consistency checks). */
export function readIdChunk(db: Database.Database, table: string, afterId: number, limit: number): number[] {
  return (prepare(db, `SELECT id FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`).raw().all(afterId, limit) as number[][]).map((r) => r[0]);
}

/** 'YYYY-MM-DD HH:MM:SS' moved back by some seconds, in the same text form. */
export function minusSeconds(ts: string, seconds: number): string {
  const t = Date.parse(`${ts.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) return ts;
  return new Date(t - seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}
