import type Database from 'better-sqlite3';
import type { TableMapping } from '../convert/tables';
import type { Cursor } from '../shared';
import { updatedAtOf, type RawRow } from './rawRow';

/**
 * Capture, legacy side: pages of legacy rows (timestamp pages, trigger-queue pages, id
 * ranges, rows by id) and what a plan needs to know of a table. Text columns come back as
 * raw bytes (CAST AS BLOB), never through the driver's UTF-8 decoding, which would destroy
 * CP950 values.
 */

export interface Page {
  rows: RawRow[];
  /** Legacy ids whose row is gone (trigger mode). */
  deleted: number[];
  next: Cursor;
  /** Fewer than a page was left. */
  done: boolean;
}

function selectList(mapping: TableMapping): string {
  const cols = mapping.legacyColumns.map((c) => (c.kind === 'text' ? `CAST(${c.name} AS BLOB) AS ${c.name}` : c.name));
  return ['id', ...cols].join(', ');
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepare(db: Database.Database, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** A table's rows by a query on its select list: values as arrays (cheaper than objects), then named. */
function readRows(db: Database.Database, mapping: TableMapping, sql: string, params: unknown[]): RawRow[] {
  const names = mapping.legacyColumns.map((c) => c.name);
  return (prepare(db, sql).raw(true).all(...params) as unknown[][]).map((values) => {
    const cols: RawRow['cols'] = {};
    for (let i = 0; i < names.length; i++) cols[names[i]] = values[i + 1] as RawRow['cols'][string];
    return { id: Number(values[0]), cols };
  });
}

/** The next page after the cursor, in (updated_at, id) order, which the updated_at index serves. */
export function readTimestampPage(db: Database.Database, mapping: TableMapping, cursor: Cursor, limit: number): Page {
  const sql = `SELECT ${selectList(mapping)} FROM ${mapping.legacyTable} WHERE (updated_at, id) > (?, ?) ORDER BY updated_at, id LIMIT ?`;
  const rows = readRows(db, mapping, sql, [cursor.ts ?? '', cursor.id, limit]);
  const last = rows.at(-1);
  return { rows, deleted: [], next: last ? { ts: updatedAtOf(last), id: last.id } : cursor, done: rows.length < limit };
}

/** Up to `limit` rows with ids in (afterId, toId] (toId null: no upper bound), in id order: backfill pages. */
export function readIdRange(db: Database.Database, mapping: TableMapping, afterId: number, toId: number | null, limit: number): RawRow[] {
  const sql = `SELECT ${selectList(mapping)} FROM ${mapping.legacyTable} WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`;
  return readRows(db, mapping, sql, [afterId, toId ?? Number.MAX_SAFE_INTEGER, limit]);
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

/** The newest (updated_at, id) of a table: where incremental reading goes on after a backfill. */
export function newestCursor(db: Database.Database, table: string): Cursor {
  const row = prepare(db, `SELECT CAST(updated_at AS BLOB) AS updated_at, id FROM ${table} ORDER BY updated_at DESC, id DESC LIMIT 1`).get() as
    | { updated_at: Buffer | null; id: number }
    | undefined;
  return row ? { ts: row.updated_at ? row.updated_at.toString('latin1') : '', id: row.id } : { ts: '', id: 0 };
}

/** Rows by id (held-back retries, trigger mode); ids not found are absent from the result. */
export function readByIds(db: Database.Database, mapping: TableMapping, ids: number[]): RawRow[] {
  if (ids.length === 0) return [];
  const sql = `SELECT ${selectList(mapping)} FROM ${mapping.legacyTable} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`;
  return readRows(db, mapping, sql, [JSON.stringify(ids)]);
}

/** The next page of the trigger queue: changed rows as they are now, and the ids deleted. */
export function readQueuePage(db: Database.Database, mapping: TableMapping, cursor: Cursor, limit: number): Page {
  const entries = prepare(db, 'SELECT id, record_id FROM sync_queue WHERE table_name = ? AND id > ? ORDER BY id LIMIT ?').all(
    mapping.legacyTable,
    cursor.id,
    limit,
  ) as { id: number; record_id: number }[];
  if (entries.length === 0) return { rows: [], deleted: [], next: cursor, done: true };
  // Several entries for one row collapse to its current state.
  const ids = [...new Set(entries.map((e) => e.record_id))];
  const rows = readByIds(db, mapping, ids);
  const found = new Set(rows.map((r) => r.id));
  return {
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
