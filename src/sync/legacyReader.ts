import type Database from 'better-sqlite3';
import type { RawRow } from '../mapping/convertRow';
import type { TableMapping } from '../mapping/tables';

/**
 * Reads pages of legacy rows. Text columns come back as raw bytes (CAST AS BLOB), never
 * through the driver's UTF-8 decoding, which would destroy CP950 values.
 */

/** Where a table's reading has got to: (updated_at, id) in timestamp mode, (null, queue id) in trigger mode. */
export interface Cursor {
  ts: string | null;
  id: number;
}

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

function toRawRow(r: Record<string, unknown>): RawRow {
  const { id, ...cols } = r;
  return { id: Number(id), cols: cols as RawRow['cols'] };
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepare(db: Database.Database, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

export function updatedAtOf(row: RawRow): string {
  const v = row.cols.updated_at;
  return Buffer.isBuffer(v) ? v.toString('latin1') : String(v ?? '');
}

/** The next page after the cursor, in (updated_at, id) order, which the updated_at index serves. */
export function readTimestampPage(db: Database.Database, mapping: TableMapping, cursor: Cursor, limit: number): Page {
  const sql = `SELECT ${selectList(mapping)} FROM ${mapping.legacyTable} WHERE (updated_at, id) > (?, ?) ORDER BY updated_at, id LIMIT ?`;
  const rows = (prepare(db, sql).all(cursor.ts ?? '', cursor.id, limit) as Record<string, unknown>[]).map(toRawRow);
  const last = rows.at(-1);
  return { rows, deleted: [], next: last ? { ts: updatedAtOf(last), id: last.id } : cursor, done: rows.length < limit };
}

/** Rows by id (held-back retries, trigger mode); ids not found are absent from the result. */
export function readByIds(db: Database.Database, mapping: TableMapping, ids: number[]): RawRow[] {
  if (ids.length === 0) return [];
  const sql = `SELECT ${selectList(mapping)} FROM ${mapping.legacyTable} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`;
  return (prepare(db, sql).all(JSON.stringify(ids)) as Record<string, unknown>[]).map(toRawRow);
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
