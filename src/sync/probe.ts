import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { TableMapping } from '../mapping/tables';
import { contentHash } from '../mapping/convertRow';
import { readQueuePage, readTimestampPage, type Cursor } from './legacyReader';

/**
 * Whether a table's run would change anything, asked before its child workflow is started
 * (most cycles find most tables idle). It reads what the run would read first, without
 * decoding: any queued change (trigger mode), more than one page, or a row whose content hash
 * differs from the one last synced means work. `read` counts the rows it re-read.
 */
export async function legacyHasWork(
  pool: pg.Pool,
  db: Database.Database,
  mapping: TableMapping,
  cursor: Cursor,
  limit: number,
): Promise<{ work: boolean; read: number }> {
  if (cursor.ts === null) {
    const queued = readQueuePage(db, mapping, cursor, 1);
    return { work: queued.rows.length + queued.deleted.length > 0, read: 0 };
  }
  const page = readTimestampPage(db, mapping, cursor, limit);
  if (!page.done) return { work: true, read: 0 };
  if (page.rows.length === 0) return { work: false, read: 0 };
  const synced = await pool.query<{ legacy_id: number; content_hash: string }>(
    `SELECT legacy_id, content_hash FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`,
    [mapping.legacyTable, page.rows.map((r) => r.id)],
  );
  const hashOf = new Map(synced.rows.map((s) => [s.legacy_id, s.content_hash]));
  const work = page.rows.some((r) => hashOf.get(r.id) !== contentHash(r));
  return { work, read: page.rows.length };
}

/** Unprocessed entries in the orders outbox: the write-back has work. */
export async function outboxHasWork(pool: pg.Pool): Promise<boolean> {
  const res = await pool.query<{ work: boolean }>(`SELECT EXISTS (SELECT 1 FROM sync_order_outbox WHERE processed_at IS NULL) AS work`);
  return res.rows[0].work;
}

/** Rows held back while waiting for a parent: the run retries them after its pages. */
export async function heldForParents(pool: pg.Pool, table: string): Promise<boolean> {
  const res = await pool.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM sync_held_back WHERE table_name = $1 AND direction = 'legacy-to-new' AND resolved_at IS NULL AND reason_kind = 'missing_parent') AS held`,
    [table],
  );
  return res.rows[0].held;
}
