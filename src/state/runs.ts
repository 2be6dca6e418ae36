import type { Queryable } from '../db/postgres';
import type { BatchResult, RunKind, RunStatus, RunSummary } from '../shared';

/**
 * sync_runs: one row per run that reads or changes data (table syncs, backfills, retries,
 * repairs, checks, rollbacks, conflict resolutions). Every run records its end here, whatever
 * the end was.
 */

export interface RunStart {
  id: string;
  kind: RunKind;
  table?: string | null;
  direction?: string | null;
  parentId?: string | null;
  details?: unknown;
}

/** Records a run as running; a workflow id run again (a backfill of the same table, a retried resolution) starts its record afresh. */
export async function beginRun(db: Queryable, run: RunStart): Promise<void> {
  await db.query(
    `INSERT INTO sync_runs (id, kind, table_name, direction, parent_id, workflow_id, status, details) VALUES ($1, $2, $3, $4, $5, $1, 'running', $6)
     ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL, started_at = now(),
       rows_read = 0, rows_written = 0, rows_unchanged = 0, rows_held_back = 0, conflicts = 0
     WHERE sync_runs.status <> 'running'`,
    [run.id, run.kind, run.table ?? null, run.direction ?? null, run.parentId ?? null, run.details === undefined ? null : JSON.stringify(run.details)],
  );
}

const SUMMARY = `id AS "runId", COALESCE(table_name, '') AS table, COALESCE(direction, '') AS direction, status, rows_read AS read,
  rows_written AS written, rows_unchanged AS unchanged, rows_held_back AS "heldBack", conflicts,
  COALESCE((extract(epoch FROM finished_at - started_at) * 1000)::int, 0) AS ms, error AS reason`;

/**
 * A run that ended without running: a table with nothing new at its source (completed: the
 * source was read, `read` rows re-read and found synced), or one never started (skipped, with why).
 */
export async function recordEnded(db: Queryable, run: RunStart & { status: 'completed' | 'skipped'; read?: number; reason?: string }): Promise<RunSummary> {
  const res = await db.query<RunSummary>(
    `INSERT INTO sync_runs (id, kind, table_name, direction, parent_id, workflow_id, status, finished_at, rows_read, rows_unchanged, error, details)
     VALUES ($1, $2, $3, $4, $5, $1, $6, now(), $7, $7, $8, $9)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, finished_at = now(), error = EXCLUDED.error
     RETURNING ${SUMMARY}`,
    [run.id, run.kind, run.table ?? null, run.direction ?? null, run.parentId ?? null, run.status, run.read ?? 0, run.reason ?? null, JSON.stringify(run.details ?? null)],
  );
  return clean(res.rows[0]);
}

/** Records how a run ended (once: a run already ended keeps its first end). */
export async function finishRun(db: Queryable, end: { runId: string; status: Exclude<RunStatus, 'running'>; error?: string; details?: unknown }): Promise<RunSummary | null> {
  const res = await db.query<RunSummary>(
    `UPDATE sync_runs SET status = CASE WHEN status = 'running' THEN $2 ELSE status END,
       error = CASE WHEN status = 'running' THEN $3 ELSE error END,
       finished_at = COALESCE(finished_at, now()),
       details = CASE WHEN $4::jsonb IS NULL THEN details ELSE COALESCE(details, '{}'::jsonb) || $4::jsonb END
     WHERE id = $1 RETURNING ${SUMMARY}`,
    [end.runId, end.status, end.error ?? null, end.details === undefined ? null : JSON.stringify(end.details)],
  );
  return res.rows[0] ? clean(res.rows[0]) : null;
}

/** A batch's counts, added to its run in the batch's transaction. */
export async function addBatchCounts(db: Queryable, runId: string, r: BatchResult): Promise<void> {
  await db.query(
    `UPDATE sync_runs SET rows_read = rows_read + $2, rows_written = rows_written + $3, rows_unchanged = rows_unchanged + $4,
       rows_held_back = rows_held_back + $5, conflicts = conflicts + $6 WHERE id = $1`,
    [runId, r.read, r.written + r.deleted, r.unchanged, r.heldBack, r.conflicts],
  );
}

/** Totals set at the end of a run that counts itself (a rollback, a check). */
export async function setRunCounts(db: Queryable, runId: string, c: { read: number; written: number; conflicts: number }): Promise<void> {
  await db.query(`UPDATE sync_runs SET rows_read = $2, rows_written = $3, conflicts = $4 WHERE id = $1`, [runId, c.read, c.written, c.conflicts]);
}

/** The run and every run under it. */
export async function runTree(db: Queryable, runId: string): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH RECURSIVE runs(id) AS (SELECT $1::text UNION SELECT r.id FROM sync_runs r JOIN runs ON r.parent_id = runs.id) SELECT id FROM runs`,
    [runId],
  );
  return res.rows.map((r) => r.id);
}

export async function runExists(db: Queryable, runId: string): Promise<boolean> {
  const res = await db.query(`SELECT 1 FROM sync_runs WHERE id = $1 OR parent_id = $1 UNION ALL SELECT 1 FROM sync_journal WHERE run_id = $1 LIMIT 1`, [runId]);
  return (res.rowCount ?? 0) > 0;
}

export async function runKind(db: Queryable, runId: string): Promise<string | null> {
  const res = await db.query<{ kind: string }>(`SELECT kind FROM sync_runs WHERE id = $1`, [runId]);
  return res.rows[0]?.kind ?? null;
}

/** Runs recorded as running (rollbacks aside), of these ids or all. */
export async function runningRuns(db: Queryable, opts: { except: string; among: string[] | null }): Promise<{ id: string; workflowId: string }[]> {
  const res = await db.query<{ id: string; workflow_id: string }>(
    `SELECT id, workflow_id FROM sync_runs WHERE status = 'running' AND kind <> 'rollback' AND id <> $1 AND ($2::text[] IS NULL OR id = ANY($2::text[]))`,
    [opts.except, opts.among],
  );
  return res.rows.map((r) => ({ id: r.id, workflowId: r.workflow_id }));
}

function clean(s: RunSummary): RunSummary {
  if (s.reason === null) delete s.reason;
  return s;
}
