import type { Queryable } from '../db/postgres';
import type { ConflictRecord } from '../reconcile/toNew';

/**
 * sync_conflicts: rows both sides changed since the sync last saw them, column by column
 * (base, legacy, new, result, rule). Manual conflicts stay `open` until resolved.
 */

/** Records a batch's conflicts; the ids of those opened for review, by legacy id. */
export async function recordConflicts(db: Queryable, table: string, runId: string, conflicts: ConflictRecord[]): Promise<Map<number, number>> {
  if (conflicts.length === 0) return new Map();
  const res = await db.query<{ id: string; legacy_id: number; status: string }>(
    `INSERT INTO sync_conflicts (run_id, table_name, legacy_id, new_id, kind, rule, outcome, status, base_version, legacy_version, new_version, resolved, columns)
     SELECT $1, $2, x.legacy_id, x.new_id, x.kind, x.rule, x.outcome, CASE WHEN x.outcome = 'manual' THEN 'open' ELSE 'resolved' END,
            x.base, COALESCE(x.legacy, 'null'::jsonb), COALESCE(x.new, 'null'::jsonb), COALESCE(x.resolved, 'null'::jsonb), x.columns
     FROM jsonb_to_recordset($3::jsonb) AS x(legacy_id int, new_id int, kind text, rule text, outcome text, base jsonb, legacy jsonb, new jsonb, resolved jsonb, columns jsonb)
     RETURNING id, legacy_id, status`,
    [
      runId,
      table,
      JSON.stringify(
        conflicts.map((c) => ({
          legacy_id: c.legacyId,
          new_id: c.newId,
          kind: c.kind,
          rule: c.rule,
          outcome: c.outcome,
          base: c.base,
          legacy: c.legacy,
          new: c.new,
          resolved: c.resolved,
          columns: c.columns,
        })),
      ),
    ],
  );
  return new Map(res.rows.filter((r) => r.status === 'open').map((r) => [r.legacy_id, Number(r.id)]));
}

/** Later edits of rows under review: the review shows the latest version of that side. */
export async function updateReviews(db: Queryable, side: 'legacy' | 'new', updates: { reviewId: number; version: unknown }[]): Promise<void> {
  if (updates.length === 0) return;
  const column = side === 'legacy' ? 'legacy_version' : 'new_version';
  await db.query(
    `UPDATE sync_conflicts c SET ${column} = COALESCE(x.version, 'null'::jsonb) FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, version jsonb)
     WHERE c.id = x.id AND c.status = 'open'`,
    [JSON.stringify(updates.map((u) => ({ id: u.reviewId, version: u.version })))],
  );
}

export interface ConflictEntry {
  id: number;
  runId: string;
  table: string;
  legacyId: number | null;
  newId: number | null;
  kind: string;
  rule: string;
  outcome: string;
  status: string;
  base: Record<string, unknown> | null;
  legacy: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
  resolved: Record<string, unknown> | null;
  columns: { column: string; base: unknown; legacy: unknown; new: unknown; result: unknown; rule: string }[] | null;
  resolution: Record<string, unknown> | null;
  createdAt: string;
  resolvedAt: string | null;
}

const SELECT = `SELECT id::int, run_id AS "runId", table_name AS table, legacy_id AS "legacyId", new_id AS "newId", kind, rule, outcome, status,
  base_version AS base, legacy_version AS legacy, new_version AS new, resolved, columns, resolution, created_at AS "createdAt", resolved_at AS "resolvedAt"
  FROM sync_conflicts`;

const entry = (r: ConflictEntry): ConflictEntry => ({ ...r, createdAt: new Date(r.createdAt).toISOString(), resolvedAt: r.resolvedAt ? new Date(r.resolvedAt).toISOString() : null });

export async function listConflicts(db: Queryable, opts: { status?: string; table?: string; limit: number }): Promise<ConflictEntry[]> {
  const res = await db.query<ConflictEntry>(`${SELECT} WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR table_name = $2) ORDER BY id DESC LIMIT $3`, [
    opts.status ?? null,
    opts.table ?? null,
    opts.limit,
  ]);
  return res.rows.map(entry);
}

export async function getConflict(db: Queryable, id: number): Promise<ConflictEntry | null> {
  const res = await db.query<ConflictEntry>(`${SELECT} WHERE id = $1`, [id]);
  return res.rows[0] ? entry(res.rows[0]) : null;
}

/** Locks an open conflict for its resolution; null when it is not open (resolved meanwhile). */
export async function lockOpenConflict(db: Queryable, id: number): Promise<ConflictEntry | null> {
  const res = await db.query<ConflictEntry>(`${SELECT} WHERE id = $1 AND status = 'open' FOR UPDATE`, [id]);
  return res.rows[0] ? entry(res.rows[0]) : null;
}

export async function markResolved(db: Queryable, id: number, resolution: unknown, resolved: unknown): Promise<void> {
  await db.query(`UPDATE sync_conflicts SET status = 'resolved', resolution = $2, resolved = $3, resolved_at = now() WHERE id = $1`, [
    id,
    JSON.stringify(resolution),
    JSON.stringify(resolved),
  ]);
}

/** A resolution rolled back: the conflict is open again. */
export async function reopenConflict(db: Queryable, id: number): Promise<ConflictEntry | null> {
  const res = await db.query<{ id: number }>(`UPDATE sync_conflicts SET status = 'open', resolution = NULL, resolved_at = NULL WHERE id = $1 AND status = 'resolved' RETURNING id`, [id]);
  return res.rows[0] ? getConflict(db, id) : null;
}

/** Open conflicts per table, and the oldest one's age (status, health, metrics). */
export async function openConflictCounts(db: Queryable): Promise<{ table: string; open: number; oldestSeconds: number }[]> {
  const res = await db.query<{ table: string; open: number; oldest: number }>(
    `SELECT table_name AS table, count(*)::int AS open, extract(epoch FROM now() - min(created_at))::int AS oldest FROM sync_conflicts WHERE status = 'open' GROUP BY 1 ORDER BY 1`,
  );
  return res.rows.map((r) => ({ table: r.table, open: r.open, oldestSeconds: r.oldest }));
}
