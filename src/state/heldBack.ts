import { idArray, type Queryable } from '../db/postgres';
import type { HeldRow } from '../convert/toNew';

/**
 * sync_held_back: rows that break a rule (bytes that cannot be decoded or encoded exactly, a
 * required value missing, a key owned by another row), with the reason and the raw values.
 * Rows merely waiting (for a parent, for a repair) are in sync_row_queue instead.
 */

export async function recordHeld(db: Queryable, table: string, direction: string, held: HeldRow[], runId: string): Promise<void> {
  if (held.length === 0) return;
  await db.query(
    `INSERT INTO sync_held_back (table_name, direction, row_id, reason_kind, reason, raw, content_hash, run_id)
     SELECT $1, $2, x.row_id, x.reason_kind, x.reason, x.raw, x.hash, $3
     FROM jsonb_to_recordset($4::jsonb) AS x(row_id bigint, reason_kind text, reason text, raw jsonb, hash text)
     ON CONFLICT (table_name, direction, row_id) DO UPDATE SET
       reason_kind = EXCLUDED.reason_kind, reason = EXCLUDED.reason, raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash,
       run_id = EXCLUDED.run_id, attempts = sync_held_back.attempts + 1, last_seen_at = now(), resolved_at = NULL`,
    [table, direction, runId, JSON.stringify(held.map((h) => ({ row_id: h.legacyId, reason_kind: h.reasonKind, reason: h.reason, raw: h.raw, hash: h.hash })))],
  );
}

/** Rows that synced after all: their held-back entries are resolved. */
export async function resolveHeld(db: Queryable, table: string, direction: string, rowIds: number[]): Promise<void> {
  if (rowIds.length === 0) return;
  await db.query(`UPDATE sync_held_back SET resolved_at = now() WHERE table_name = $1 AND direction = $2 AND row_id = ANY($3::bigint[]) AND resolved_at IS NULL`, [
    table,
    direction,
    idArray(rowIds),
  ]);
}

/** The next held-back row ids of a table after `afterId`, for a retry. */
export async function heldIds(db: Queryable, table: string, direction: string, afterId: number, limit: number): Promise<number[]> {
  const res = await db.query<{ row_id: string }>(
    `SELECT row_id FROM sync_held_back WHERE table_name = $1 AND direction = $2 AND resolved_at IS NULL AND row_id > $3 ORDER BY row_id LIMIT $4`,
    [table, direction, afterId, limit],
  );
  return res.rows.map((r) => Number(r.row_id));
}

export interface HeldBackEntry {
  table: string;
  direction: string;
  rowId: number;
  reasonKind: string;
  reason: string;
  raw: unknown;
  attempts: number;
  firstSeenAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
}

export async function listHeld(db: Queryable, opts: { table?: string; all?: boolean; limit: number }): Promise<HeldBackEntry[]> {
  const res = await db.query<HeldBackEntry>(
    `SELECT table_name AS table, direction, row_id::int AS "rowId", reason_kind AS "reasonKind", reason, raw, attempts,
            first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt", resolved_at AS "resolvedAt"
       FROM sync_held_back WHERE ($1::text IS NULL OR table_name = $1) AND ($2 OR resolved_at IS NULL)
      ORDER BY last_seen_at DESC LIMIT $3`,
    [opts.table ?? null, opts.all === true, opts.limit],
  );
  return res.rows.map((r) => ({
    ...r,
    firstSeenAt: new Date(r.firstSeenAt).toISOString(),
    lastSeenAt: new Date(r.lastSeenAt).toISOString(),
    resolvedAt: r.resolvedAt ? new Date(r.resolvedAt).toISOString() : null,
  }));
}

/** Unresolved held-back rows per table and direction, and the legacy ids among these that are held back. */
export async function heldAmong(db: Queryable, table: string, direction: string, lower: number | null, upper: number | null): Promise<Map<number, { reasonKind: string; reason: string }>> {
  const res = await db.query<{ row_id: string; reason_kind: string; reason: string }>(
    `SELECT row_id, reason_kind, reason FROM sync_held_back
      WHERE table_name = $1 AND direction = $2 AND resolved_at IS NULL AND ($3::bigint IS NULL OR row_id > $3) AND ($4::bigint IS NULL OR row_id <= $4)`,
    [table, direction, lower, upper],
  );
  return new Map(res.rows.map((h) => [Number(h.row_id), { reasonKind: h.reason_kind, reason: h.reason }]));
}

/** Which of these row ids are held back (unresolved) in a direction. */
export async function heldOf(db: Queryable, table: string, direction: string, rowIds: number[]): Promise<Set<number>> {
  if (rowIds.length === 0) return new Set();
  const res = await db.query<{ row_id: string }>(
    `SELECT row_id FROM sync_held_back WHERE table_name = $1 AND direction = $2 AND resolved_at IS NULL AND row_id = ANY($3::bigint[])`,
    [table, direction, idArray(rowIds)],
  );
  return new Set(res.rows.map((r) => Number(r.row_id)));
}

/** Unresolved held-back rows per table and direction. */
export async function heldCounts(db: Queryable): Promise<{ table: string; direction: string; rows: number }[]> {
  const res = await db.query<{ table: string; direction: string; rows: number }>(
    `SELECT table_name AS table, direction, count(*)::int AS rows FROM sync_held_back WHERE resolved_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return res.rows;
}
