import { idArray, type Queryable } from '../db/postgres';

/**
 * sync_row_queue: legacy rows to read again by id, one queue per cause: `parent` (a row
 * waiting for its customer or driver) and `repair` (a difference the consistency check
 * found, or a row a rollback restored). Each is drained by its own kind of run, so a repair
 * never retries unrelated rows.
 */

export type QueueName = 'parent' | 'repair';

export async function enqueueRows(db: Queryable, table: string, queue: QueueName, rows: { rowId: number; reason: string }[], runId: string): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO sync_row_queue (table_name, queue, row_id, reason, run_id)
     SELECT $1, $2, x.row_id, x.reason, $3 FROM jsonb_to_recordset($4::jsonb) AS x(row_id bigint, reason text)
     ON CONFLICT (table_name, queue, row_id) DO UPDATE SET reason = EXCLUDED.reason, run_id = EXCLUDED.run_id,
       attempts = sync_row_queue.attempts + 1, last_seen_at = now()`,
    [table, queue, runId, JSON.stringify(rows.map((r) => ({ row_id: r.rowId, reason: r.reason })))],
  );
}

/** Rows that synced (or were found in sync): they leave every queue. */
export async function settleRows(db: Queryable, table: string, rowIds: number[]): Promise<void> {
  if (rowIds.length === 0) return;
  await db.query(`DELETE FROM sync_row_queue WHERE table_name = $1 AND row_id = ANY($2::bigint[])`, [table, idArray(rowIds)]);
}

export async function queuedIds(db: Queryable, table: string, queue: QueueName, afterId: number, limit: number): Promise<number[]> {
  const res = await db.query<{ row_id: string }>(
    `SELECT row_id FROM sync_row_queue WHERE table_name = $1 AND queue = $2 AND row_id > $3 ORDER BY row_id LIMIT $4`,
    [table, queue, afterId, limit],
  );
  return res.rows.map((r) => Number(r.row_id));
}

export async function hasQueued(db: Queryable, table: string, queue: QueueName): Promise<boolean> {
  const res = await db.query(`SELECT 1 FROM sync_row_queue WHERE table_name = $1 AND queue = $2 LIMIT 1`, [table, queue]);
  return (res.rowCount ?? 0) > 0;
}

/** Queued rows per table and queue (status, health). */
export async function queueCounts(db: Queryable): Promise<{ table: string; queue: string; rows: number }[]> {
  const res = await db.query<{ table: string; queue: string; rows: number }>(
    `SELECT table_name AS table, queue, count(*)::int AS rows FROM sync_row_queue GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return res.rows;
}

/** Queued rows of a table with ids in (lower, upper], with why (the consistency check reports them). */
export async function queuedAmong(db: Queryable, table: string, queue: QueueName, lower: number | null, upper: number | null): Promise<Map<number, string>> {
  const res = await db.query<{ row_id: string; reason: string }>(
    `SELECT row_id, reason FROM sync_row_queue WHERE table_name = $1 AND queue = $2 AND ($3::bigint IS NULL OR row_id > $3) AND ($4::bigint IS NULL OR row_id <= $4)`,
    [table, queue, lower, upper],
  );
  return new Map(res.rows.map((r) => [Number(r.row_id), r.reason]));
}
