import type pg from 'pg';
import type { HeldRow } from '../mapping/convertRow';
import type { NewValues, TableMapping } from '../mapping/tables';
import type { Cursor } from './legacyReader';

/**
 * Applies one reconciled batch to PostgreSQL in one transaction: the rows (set-based
 * INSERT ... ON CONFLICT), their journal entries with before and after images, the content
 * hashes, held-back rows, conflicts, the run's counters and the watermark. A batch key is
 * applied once: a replay (an activity retried after its commit) returns the first result.
 */

export interface PlannedRow {
  legacyId: number;
  hash: string;
  /** New column values, parent ids resolved. */
  values: NewValues;
}

export interface ConflictRecord {
  legacyId: number;
  newId: number;
  rule: string;
  outcome: 'legacy' | 'new' | 'merged';
  legacyVersion: NewValues;
  newVersion: Record<string, unknown>;
  resolved: NewValues;
}

export interface BatchPlan {
  upserts: PlannedRow[];
  /** Legacy ids whose legacy row is gone. */
  deletes: number[];
  /** Legacy ids read but unchanged since their last sync. */
  unchanged: number[];
  /** Legacy rows whose new row won a conflict: only their hash is recorded. */
  keptNew: PlannedRow[];
  held: HeldRow[];
  conflicts: ConflictRecord[];
  read: number;
}

export interface BatchResult {
  read: number;
  written: number;
  deleted: number;
  unchanged: number;
  heldBack: number;
  conflicts: number;
  cursor: Cursor;
  replayed: boolean;
}

export interface BatchContext {
  runId: string;
  batchKey: string;
  direction: string;
  mode: string;
  /** The watermark after this batch, or null to leave it (retries of held-back rows, backfill pages). */
  cursor: Cursor | null;
  /** Where reading got to when the watermark is left (a backfill page's last id): kept in the result for a replay. */
  reached?: Cursor;
}

const DIRECTION = 'legacy-to-new';

function recordsetColumns(mapping: TableMapping): string {
  const cols = Object.entries(mapping.newColumns).map(([c, t]) => `${c} ${t}`);
  const parents = mapping.parents.map((p) => `${p.newColumn} integer`);
  return ['legacy_id integer', ...cols, ...parents].join(', ');
}

function writtenColumns(mapping: TableMapping): string[] {
  return ['legacy_id', ...Object.keys(mapping.newColumns), ...mapping.parents.map((p) => p.newColumn)];
}

async function upsertRows(client: pg.PoolClient, mapping: TableMapping, rows: PlannedRow[], ctx: BatchContext): Promise<number> {
  if (rows.length === 0) return 0;
  const t = mapping.newTable;
  const cols = writtenColumns(mapping);
  const input = (batch: PlannedRow[]) => JSON.stringify(batch.map((r) => ({ legacy_id: r.legacyId, ...r.values })));
  const journal = `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after)`;

  // New rows first (all of them in a backfill): a plain insert, journaled without a before-image.
  const inserted = await client.query<{ legacy_id: number }>(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${recordsetColumns(mapping)})),
     ins AS (INSERT INTO ${t} AS t (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM input ON CONFLICT (legacy_id) DO NOTHING RETURNING t.*),
     j AS (${journal} SELECT $2, $3, 'new', '${t}', i.id, i.legacy_id, 'insert', NULL, to_jsonb(i) FROM ins i)
     SELECT legacy_id FROM ins`,
    [input(rows), ctx.runId, ctx.batchKey],
  );
  const done = new Set(inserted.rows.map((r) => r.legacy_id));
  const updates = rows.filter((r) => !done.has(r.legacyId));
  if (updates.length === 0) return inserted.rowCount ?? 0;

  // Rows that exist: locked first, so the before-images are the rows this transaction overwrites.
  await client.query(`SELECT 1 FROM ${t} WHERE legacy_id = ANY($1::int[]) FOR UPDATE`, [updates.map((r) => r.legacyId)]);
  const updated = await client.query(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${recordsetColumns(mapping)})),
     before AS (SELECT t.* FROM ${t} t WHERE t.legacy_id = ANY($4::int[])),
     upd AS (
       UPDATE ${t} AS t SET ${cols
         .filter((c) => c !== 'legacy_id')
         .map((c) => `${c} = i.${c}`)
         .join(', ')}, deleted_at = NULL
       FROM input i WHERE t.legacy_id = i.legacy_id
       RETURNING t.*
     )
     ${journal} SELECT $2, $3, 'new', '${t}', u.id, u.legacy_id, 'update', to_jsonb(b), to_jsonb(u) FROM upd u JOIN before b ON b.id = u.id`,
    [input(updates), ctx.runId, ctx.batchKey, updates.map((r) => r.legacyId)],
  );
  return (inserted.rowCount ?? 0) + (updated.rowCount ?? 0);
}

async function markDeleted(client: pg.PoolClient, mapping: TableMapping, legacyIds: number[], ctx: BatchContext): Promise<number> {
  if (legacyIds.length === 0) return 0;
  const t = mapping.newTable;
  const res = await client.query(
    `WITH before AS (SELECT t.* FROM ${t} t WHERE t.legacy_id = ANY($1::int[]) AND t.deleted_at IS NULL FOR UPDATE),
     gone AS (UPDATE ${t} t SET deleted_at = now() FROM before b WHERE t.id = b.id RETURNING t.*)
     INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after)
     SELECT $2, $3, 'new', '${t}', g.id, g.legacy_id, 'delete', to_jsonb(b), to_jsonb(g) FROM gone g JOIN before b ON b.id = g.id`,
    [legacyIds, ctx.runId, ctx.batchKey],
  );
  await client.query(`DELETE FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`, [mapping.legacyTable, legacyIds]);
  return res.rowCount ?? 0;
}

async function recordHashes(client: pg.PoolClient, mapping: TableMapping, rows: PlannedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO sync_row_state (table_name, legacy_id, content_hash, new_updated_at, synced_at)
     SELECT $1, x.legacy_id, x.hash, x.updated_at, now()
     FROM jsonb_to_recordset($2::jsonb) AS x(legacy_id integer, hash text, updated_at timestamptz)
     ON CONFLICT (table_name, legacy_id) DO UPDATE
       SET content_hash = EXCLUDED.content_hash, new_updated_at = EXCLUDED.new_updated_at, synced_at = now()`,
    [mapping.legacyTable, JSON.stringify(rows.map((r) => ({ legacy_id: r.legacyId, hash: r.hash, updated_at: r.values.updated_at })))],
  );
}

/** Held-back rows are recorded (or refreshed); rows that now synced are marked resolved. */
export async function recordHeld(client: pg.PoolClient, table: string, direction: string, held: HeldRow[], runId: string): Promise<void> {
  if (held.length === 0) return;
  await client.query(
    `INSERT INTO sync_held_back (table_name, direction, row_id, reason_kind, reason, raw, content_hash, run_id)
     SELECT $1, $2, x.row_id, x.reason_kind, x.reason, x.raw, x.hash, $3
     FROM jsonb_to_recordset($4::jsonb) AS x(row_id bigint, reason_kind text, reason text, raw jsonb, hash text)
     ON CONFLICT (table_name, direction, row_id) DO UPDATE SET
       reason_kind = EXCLUDED.reason_kind, reason = EXCLUDED.reason, raw = EXCLUDED.raw, content_hash = EXCLUDED.content_hash,
       run_id = EXCLUDED.run_id, attempts = sync_held_back.attempts + 1, last_seen_at = now(), resolved_at = NULL`,
    [table, direction, runId, JSON.stringify(held.map((h) => ({ row_id: h.legacyId, reason_kind: h.reasonKind, reason: h.reason, raw: h.raw, hash: h.hash })))],
  );
}

export async function resolveHeld(client: pg.PoolClient, table: string, direction: string, rowIds: number[]): Promise<void> {
  if (rowIds.length === 0) return;
  await client.query(
    `UPDATE sync_held_back SET resolved_at = now() WHERE table_name = $1 AND direction = $2 AND row_id = ANY($3::bigint[]) AND resolved_at IS NULL`,
    [table, direction, rowIds],
  );
}

export async function recordConflicts(client: pg.PoolClient, table: string, conflicts: ConflictRecord[], runId: string): Promise<void> {
  if (conflicts.length === 0) return;
  await client.query(
    `INSERT INTO sync_conflicts (run_id, table_name, legacy_id, new_id, rule, outcome, legacy_version, new_version, resolved)
     SELECT $1, $2, x.legacy_id, x.new_id, x.rule, x.outcome, x.legacy_version, x.new_version, x.resolved
     FROM jsonb_to_recordset($3::jsonb) AS x(legacy_id integer, new_id integer, rule text, outcome text, legacy_version jsonb, new_version jsonb, resolved jsonb)`,
    [
      runId,
      table,
      JSON.stringify(
        conflicts.map((c) => ({
          legacy_id: c.legacyId,
          new_id: c.newId,
          rule: c.rule,
          outcome: c.outcome,
          legacy_version: c.legacyVersion,
          new_version: c.newVersion,
          resolved: c.resolved,
        })),
      ),
    ],
  );
}

/** Moves the watermark forward only: a lookback re-read or an old replay never moves it back. */
export async function advanceWatermark(client: pg.PoolClient, table: string, direction: string, mode: string, cursor: Cursor): Promise<void> {
  await client.query(
    `INSERT INTO sync_state (table_name, direction, mode, cursor_ts, cursor_id, updated_at) VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (table_name, direction) DO UPDATE SET cursor_ts = EXCLUDED.cursor_ts, cursor_id = EXCLUDED.cursor_id, mode = EXCLUDED.mode, updated_at = now()
     WHERE sync_state.mode IS DISTINCT FROM EXCLUDED.mode
        OR (COALESCE(sync_state.cursor_ts, ''), sync_state.cursor_id) < (COALESCE(EXCLUDED.cursor_ts, ''), EXCLUDED.cursor_id)`,
    [table, direction, mode, cursor.ts, cursor.id],
  );
}

/** Claims a batch key inside the transaction; returns the first result when it was applied before. */
export async function claimBatch(client: pg.PoolClient, table: string, ctx: BatchContext): Promise<BatchResult | null> {
  const res = await client.query(
    `INSERT INTO sync_batches (batch_key, run_id, table_name, direction, result) VALUES ($1, $2, $3, $4, '{}') ON CONFLICT DO NOTHING`,
    [ctx.batchKey, ctx.runId, table, ctx.direction],
  );
  if (res.rowCount === 1) return null;
  const prior = await client.query<{ result: BatchResult }>(`SELECT result FROM sync_batches WHERE batch_key = $1`, [ctx.batchKey]);
  return { ...prior.rows[0].result, replayed: true };
}

export async function finishBatch(client: pg.PoolClient, ctx: BatchContext, table: string, result: BatchResult): Promise<void> {
  await client.query(`UPDATE sync_batches SET result = $2 WHERE batch_key = $1`, [ctx.batchKey, JSON.stringify(result)]);
  await client.query(
    `UPDATE sync_runs SET rows_read = rows_read + $2, rows_written = rows_written + $3, rows_unchanged = rows_unchanged + $4,
       rows_held_back = rows_held_back + $5, conflicts = conflicts + $6 WHERE id = $1`,
    [ctx.runId, result.read, result.written + result.deleted, result.unchanged, result.heldBack, result.conflicts],
  );
  if (ctx.cursor) await advanceWatermark(client, table, ctx.direction, ctx.mode, ctx.cursor);
}

export async function applyToNew(client: pg.PoolClient, mapping: TableMapping, plan: BatchPlan, ctx: BatchContext): Promise<BatchResult> {
  const prior = await claimBatch(client, mapping.legacyTable, ctx);
  if (prior) return prior;
  // The outbox trigger ignores writes made by the sync: no ping-pong back to legacy.
  await client.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
  const written = await upsertRows(client, mapping, plan.upserts, ctx);
  const deleted = await markDeleted(client, mapping, plan.deletes, ctx);
  await recordHashes(client, mapping, [...plan.upserts, ...plan.keptNew]);
  await recordHeld(client, mapping.legacyTable, DIRECTION, plan.held, ctx.runId);
  await resolveHeld(client, mapping.legacyTable, DIRECTION, [...plan.upserts, ...plan.keptNew].map((r) => r.legacyId).concat(plan.unchanged, plan.deletes));
  await recordConflicts(client, mapping.legacyTable, plan.conflicts, ctx.runId);
  const result: BatchResult = {
    read: plan.read,
    written,
    deleted,
    unchanged: plan.unchanged.length,
    heldBack: plan.held.length,
    conflicts: plan.conflicts.length,
    cursor: ctx.cursor ?? ctx.reached ?? { ts: null, id: 0 },
    replayed: false,
  };
  await finishBatch(client, ctx, mapping.legacyTable, result);
  return result;
}
