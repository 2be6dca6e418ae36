import type { Queryable } from '../db/postgres';

/** sync_consistency_reports: each consistency check's outcome, exact counts and row-level differences per table. */

export async function beginReport(db: Queryable, checkId: string, repair: boolean): Promise<string> {
  const res = await db.query<{ started_at: Date }>(
    `INSERT INTO sync_consistency_reports (id, status, repair) VALUES ($1, 'running', $2)
     ON CONFLICT (id) DO UPDATE SET status = 'running' RETURNING started_at`,
    [checkId, repair],
  );
  return res.rows[0].started_at.toISOString();
}

export async function finishReport(db: Queryable, checkId: string, end: { status: 'completed' | 'failed'; differences: number; result: unknown }): Promise<string> {
  const res = await db.query<{ finished_at: Date }>(
    `UPDATE sync_consistency_reports SET status = $2, differences = $3, result = $4, finished_at = now() WHERE id = $1 RETURNING finished_at`,
    [checkId, end.status, end.differences, JSON.stringify(end.result)],
  );
  return (res.rows[0]?.finished_at ?? new Date()).toISOString();
}

/** The latest completed check: what the monitor reports. */
export async function latestReport(db: Queryable): Promise<{ id: string; finishedAt: Date | null; startedAt: Date; differences: number } | null> {
  const res = await db.query<{ id: string; finished_at: Date | null; started_at: Date; differences: number }>(
    `SELECT id, finished_at, started_at, differences FROM sync_consistency_reports WHERE status = 'completed'
      ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1`,
  );
  const r = res.rows[0];
  return r ? { id: r.id, finishedAt: r.finished_at, startedAt: r.started_at, differences: r.differences } : null;
}
