import type { Queryable } from '../db/postgres';

/**
 * What `status`, /health and /metrics report, read from the sync's own tables, defined once.
 *
 * Lag is the age of the newest data surely synced: the time since the start of the last run
 * of a table and direction that completed (a cycle's table run, an idle one included, or a
 * backfill). A run that failed or was skipped does not make it younger.
 */

export interface TableStatus {
  table: string;
  direction: string;
  watermark: string | null;
  /** Seconds; null when no run of it ever completed. */
  lagSeconds: number | null;
  lastRun: string | null;
  lastOutcome: string | null;
  /** Why the last run failed or was skipped. */
  lastReason: string | null;
  lastFinishedAt: string | null;
  lastHeldBack: number | null;
  running: boolean;
  rowsSynced: number;
  errors: number;
  conflicts: number;
  heldBack: number;
  openConflicts: number;
  queued: number;
}

const TABLE_KINDS = ['table', 'backfill', 'retry', 'repair'];
const LAG_KINDS = ['table', 'backfill'];

/**
 * Per table and direction: the configured ones, and any other that ever ran (a table removed
 * from the configuration still shows until it is gone from the runs).
 */
export async function tableStatus(db: Queryable, configured: { table: string; direction: string }[]): Promise<TableStatus[]> {
  const res = await db.query(
    `WITH wanted AS (
       SELECT table_name, direction FROM jsonb_to_recordset($1::jsonb) AS x(table_name text, direction text)
       UNION SELECT DISTINCT table_name, direction FROM sync_runs WHERE kind = ANY($2::text[]) AND table_name IS NOT NULL AND direction IS NOT NULL),
     runs AS (SELECT table_name, direction, count(*) FILTER (WHERE status = 'failed')::int AS errors,
                     coalesce(sum(rows_written), 0)::int AS written, coalesce(sum(conflicts), 0)::int AS conflicts,
                     max(started_at) FILTER (WHERE status = 'completed' AND kind = ANY($3::text[])) AS fresh,
                     bool_or(status = 'running') AS running
              FROM sync_runs WHERE kind = ANY($2::text[]) GROUP BY 1, 2),
     last AS (SELECT DISTINCT ON (table_name, direction) table_name, direction, id, status, error, finished_at, rows_held_back
              FROM sync_runs WHERE kind = ANY($2::text[]) AND status <> 'running' ORDER BY table_name, direction, finished_at DESC NULLS LAST, started_at DESC),
     held AS (SELECT table_name, direction, count(*)::int AS n FROM sync_held_back WHERE resolved_at IS NULL GROUP BY 1, 2),
     open AS (SELECT table_name, count(*)::int AS n FROM sync_conflicts WHERE status = 'open' GROUP BY 1),
     queued AS (SELECT table_name, count(*)::int AS n FROM sync_row_queue GROUP BY 1)
     SELECT w.table_name, w.direction, s.cursor_ts, s.cursor_id::text, s.mode,
            extract(epoch FROM now() - r.fresh)::int AS lag, coalesce(r.running, false) AS running,
            l.id AS last_run, l.status AS last_status, l.error AS last_error, l.finished_at, l.rows_held_back AS last_held_back,
            coalesce(r.written, 0) AS written, coalesce(r.errors, 0) AS errors, coalesce(r.conflicts, 0) AS conflicts, coalesce(h.n, 0) AS held,
            CASE WHEN w.direction = 'legacy-to-new' THEN coalesce(o.n, 0) ELSE 0 END AS open_conflicts,
            CASE WHEN w.direction = 'legacy-to-new' THEN coalesce(q.n, 0) ELSE 0 END AS queued
     FROM wanted w
     LEFT JOIN sync_state s USING (table_name, direction)
     LEFT JOIN runs r USING (table_name, direction)
     LEFT JOIN last l USING (table_name, direction)
     LEFT JOIN held h USING (table_name, direction)
     LEFT JOIN open o USING (table_name)
     LEFT JOIN queued q USING (table_name)
     ORDER BY w.table_name, w.direction`,
    [JSON.stringify(configured.map((t) => ({ table_name: t.table, direction: t.direction }))), TABLE_KINDS, LAG_KINDS],
  );
  return res.rows.map((r) => ({
    table: r.table_name,
    direction: r.direction,
    watermark: r.direction === 'new-to-legacy' ? null : r.mode === 'trigger' ? (r.cursor_id ? `queue #${r.cursor_id}` : null) : r.cursor_ts ? `${r.cursor_ts} #${r.cursor_id}` : null,
    lagSeconds: r.lag === null ? null : Math.max(0, r.lag),
    lastRun: r.last_run,
    lastOutcome: r.last_status,
    lastReason: r.last_error,
    lastFinishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    lastHeldBack: r.last_held_back,
    running: r.running,
    rowsSynced: r.written,
    errors: r.errors,
    conflicts: r.conflicts,
    heldBack: r.held,
    openConflicts: r.open_conflicts,
    queued: r.queued,
  }));
}

/** What table runs started in a window did. */
export async function windowTotals(db: Queryable, from: Date, to: Date): Promise<{ read: number; written: number; heldBack: number; conflicts: number; failedRuns: number }> {
  const res = await db.query<Record<string, string>>(
    `SELECT coalesce(sum(rows_read), 0)::bigint AS read, coalesce(sum(rows_written), 0)::bigint AS written,
            coalesce(sum(rows_held_back), 0)::bigint AS held_back, coalesce(sum(conflicts), 0)::bigint AS conflicts,
            count(*) FILTER (WHERE kind = 'table' AND status = 'failed')::bigint AS failed_runs
       FROM sync_runs WHERE table_name IS NOT NULL AND started_at >= $1 AND started_at <= $2`,
    [from, to],
  );
  const r = res.rows[0];
  return { read: Number(r.read), written: Number(r.written), heldBack: Number(r.held_back), conflicts: Number(r.conflicts), failedRuns: Number(r.failed_runs) };
}

/** Totals per table and direction over every run (the monitor's counters). */
export async function runTotals(db: Queryable): Promise<{ table: string; direction: string; written: number; unchanged: number; heldBack: number; conflicts: number; failedRuns: number }[]> {
  const res = await db.query<Record<string, string>>(
    `SELECT table_name, direction, coalesce(sum(rows_written), 0)::bigint AS written, coalesce(sum(rows_unchanged), 0)::bigint AS unchanged,
            coalesce(sum(rows_held_back), 0)::bigint AS held_back, coalesce(sum(conflicts), 0)::bigint AS conflicts,
            count(*) FILTER (WHERE status = 'failed')::bigint AS failed_runs
       FROM sync_runs WHERE table_name IS NOT NULL AND direction IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return res.rows.map((r) => ({
    table: r.table_name,
    direction: r.direction,
    written: Number(r.written),
    unchanged: Number(r.unchanged),
    heldBack: Number(r.held_back),
    conflicts: Number(r.conflicts),
    failedRuns: Number(r.failed_runs),
  }));
}

/**
 * Per table and direction: cycles begun since its last completed run (as lag defines it).
 * Each cycle records a run for every table and direction, so in steady state this is 0, or 1
 * while a new cycle is under way.
 */
export async function cyclesSinceCompleted(db: Queryable, configured: { table: string; direction: string }[]): Promise<{ table: string; direction: string; cycles: number }[]> {
  const res = await db.query<{ table_name: string; direction: string; cycles: string }>(
    `WITH pairs AS (
       SELECT c.t AS table_name, c.d AS direction FROM unnest($1::text[], $2::text[]) AS c(t, d)
       UNION SELECT DISTINCT table_name, direction FROM sync_runs WHERE kind = 'table' AND table_name IS NOT NULL AND direction IS NOT NULL),
     fresh AS (SELECT table_name, direction, max(started_at) FILTER (WHERE status = 'completed' AND kind = ANY($3::text[])) AS at FROM sync_runs GROUP BY 1, 2),
     cycles AS (SELECT parent_id, min(started_at) AS started_at FROM sync_runs WHERE kind = 'table' AND parent_id IS NOT NULL GROUP BY parent_id)
     SELECT p.table_name, p.direction, (SELECT count(*) FROM cycles c WHERE f.at IS NULL OR c.started_at > f.at)::bigint AS cycles
       FROM pairs p LEFT JOIN fresh f USING (table_name, direction) ORDER BY 1, 2`,
    [configured.map((t) => t.table), configured.map((t) => t.direction), LAG_KINDS],
  );
  return res.rows.map((r) => ({ table: r.table_name, direction: r.direction, cycles: Number(r.cycles) }));
}
