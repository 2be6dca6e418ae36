import type { Queryable } from '../db/postgres';

/**
 * Where each table and direction stands, read from the sync's own tables: the one definition
 * of lag that `status`, /health and /metrics share. Lag is the age of the newest data surely
 * synced: the time since the start of the last run of the table and direction that completed
 * (a cycle's table run, an idle one included, or a backfill).
 */

export interface TableStatus {
  table: string;
  direction: string;
  watermark: string | null;
  lagSeconds: number | null;
  lastRun: string | null;
  lastOutcome: string | null;
  lastReason: string | null;
  lastFinishedAt: string | null;
  rowsSynced: number;
  errors: number;
  conflicts: number;
  heldBack: number;
  openConflicts: number;
  queued: number;
}

export const LAG_KINDS = ['table', 'backfill'];

export async function tableStatus(db: Queryable, tables: { table: string; direction: string }[]): Promise<TableStatus[]> {
  const res = await db.query(
    `WITH wanted AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(table_name text, direction text)),
     runs AS (SELECT table_name, direction, count(*) FILTER (WHERE status = 'failed')::int AS errors,
                     coalesce(sum(rows_written), 0)::int AS written, coalesce(sum(conflicts), 0)::int AS conflicts,
                     max(started_at) FILTER (WHERE status = 'completed' AND kind = ANY($2::text[])) AS fresh
              FROM sync_runs WHERE kind IN ('table', 'backfill', 'retry', 'repair') GROUP BY 1, 2),
     last AS (SELECT DISTINCT ON (table_name, direction) table_name, direction, id, status, error, finished_at
              FROM sync_runs WHERE kind IN ('table', 'backfill', 'retry', 'repair') ORDER BY table_name, direction, started_at DESC),
     held AS (SELECT table_name, direction, count(*)::int AS n FROM sync_held_back WHERE resolved_at IS NULL GROUP BY 1, 2),
     open AS (SELECT table_name, count(*)::int AS n FROM sync_conflicts WHERE status = 'open' GROUP BY 1),
     queued AS (SELECT table_name, count(*)::int AS n FROM sync_row_queue GROUP BY 1)
     SELECT w.table_name, w.direction, s.cursor_ts, s.cursor_id::text, s.mode,
            extract(epoch FROM now() - r.fresh)::int AS lag, l.id AS last_run, l.status AS last_status, l.error AS last_error, l.finished_at,
            coalesce(r.written, 0) AS written, coalesce(r.errors, 0) AS errors, coalesce(r.conflicts, 0) AS conflicts, coalesce(h.n, 0) AS held,
            CASE WHEN w.direction = 'legacy-to-new' THEN coalesce(o.n, 0) ELSE 0 END AS open_conflicts,
            CASE WHEN w.direction = 'legacy-to-new' THEN coalesce(q.n, 0) ELSE 0 END AS queued
     FROM wanted w
     LEFT JOIN sync_state s USING (table_name, direction)
     LEFT JOIN runs r USING (table_name, direction)
     LEFT JOIN last l USING (table_name, direction)
     LEFT JOIN held h USING (table_name, direction)
     LEFT JOIN open o USING (table_name)
     LEFT JOIN queued q USING (table_name)`,
    [JSON.stringify(tables.map((t) => ({ table_name: t.table, direction: t.direction }))), LAG_KINDS],
  );
  return res.rows.map((r) => ({
    table: r.table_name,
    direction: r.direction,
    watermark: r.direction === 'new-to-legacy' ? null : r.mode === 'trigger' ? (r.cursor_id ? `queue #${r.cursor_id}` : null) : r.cursor_ts ? `${r.cursor_ts} #${r.cursor_id}` : null,
    lagSeconds: r.lag,
    lastRun: r.last_run,
    lastOutcome: r.last_status,
    lastReason: r.last_error,
    lastFinishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    rowsSynced: r.written,
    errors: r.errors,
    conflicts: r.conflicts,
    heldBack: r.held,
    openConflicts: r.open_conflicts,
    queued: r.queued,
  }));
}
