import type pg from 'pg';
import type { TableConfig } from '../config/tables';
import { idArray, inTransaction } from '../db/postgres';
import type { ConvertedBatch } from '../convert/toNew';
import type { LegacyWriteResult } from './legacySink';
import { sameValue } from '../convert/canonical';
import { deliveries as deliveriesMapping, writtenColumns, type NewValues, type TableMapping } from '../convert/tables';
import type { WriteBackPlan } from '../reconcile/toLegacy';
import { imageOf, mergeColumns, planToNew, type PlannedRow, type TargetRow } from '../reconcile/toNew';
import type { BatchResult, Cursor } from '../shared';
import { claimBatch, finishBatch } from '../state/batches';
import { recordConflicts, updateReviews } from '../state/conflicts';
import { recordHeld, resolveHeld } from '../state/heldBack';
import { journal, journalWritten } from '../state/journal';
import { markProcessed, queueOrders } from '../state/outbox';
import { enqueueRows, settleRows } from '../state/rowQueue';
import { forgetRowStates, readRowStates, recordWrittenBack, writeRowStates } from '../state/rowState';
import { addBatchCounts } from '../state/runs';
import { advanceWatermark } from '../state/watermarks';

/**
 * Apply, legacy → new: one converted batch into PostgreSQL in one transaction under its
 * batch key. The new rows it touches are read under lock, reconciled (pure), written with
 * set-based SQL and journaled, and the bookkeeping (row states, held back, queues,
 * conflicts, run counts, watermark) commits with them. A batch key applies once: a retry
 * after the commit returns the first result.
 */

export interface BatchContext {
  runId: string;
  batchKey: string;
  mode: string;
  /** The watermark after this batch, or null to leave it (rows read by id, load pages). */
  cursor: Cursor | null;
  /** Where reading got to when the watermark is left (a load page's last id): kept in the result for a replay. */
  reached?: Cursor;
}

const DIRECTION = 'legacy-to-new';

/** Sets the sync's origin for the transaction: the new tables' triggers ignore its writes (no ping-pong, no base copy). */
export async function asSync(client: pg.PoolClient): Promise<void> {
  await client.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
}

export function applyToNew(pool: pg.Pool, cfg: TableConfig, batch: ConvertedBatch, ctx: BatchContext): Promise<BatchResult> {
  const mapping = cfg.mapping;
  return inTransaction(pool, async (client) => {
    const prior = await claimBatch(client, { key: ctx.batchKey, runId: ctx.runId, table: mapping.legacyTable, direction: DIRECTION });
    if (prior) return prior;
    await asSync(client);
    const plan = planToNew({ cfg, batch, ...(await readTargets(client, mapping, batch)) });

    const written = (await insertRows(client, mapping, plan.inserts, ctx)) + (await updateRows(client, mapping, plan.updates, ctx));
    await touchRows(client, mapping, plan.touches, ctx);
    const deleted = await markDeleted(client, mapping, plan.deletes, ctx);
    const reviewIds = await recordConflicts(client, mapping.legacyTable, ctx.runId, plan.conflicts);
    await updateReviews(client, 'legacy', plan.reviewUpdates.map((u) => ({ reviewId: u.reviewId, version: u.legacy })));
    await writeRowStates(client, mapping.legacyTable, plan.states, reviewIds);
    await forgetRowStates(client, mapping.legacyTable, plan.forget);
    // Every row read leaves the row queues (a held-back row is in sync_held_back now), but those still waiting for a parent.
    const waiting = new Set(plan.waiting.map((w) => w.legacyId));
    const held = new Set(plan.held.map((h) => h.legacyId));
    const read = [...batch.converted.map((r) => r.legacyId), ...batch.held.map((h) => h.legacyId), ...batch.deleted].filter((id) => !waiting.has(id));
    await recordHeld(client, mapping.legacyTable, DIRECTION, plan.held, ctx.runId);
    await resolveHeld(client, mapping.legacyTable, DIRECTION, read.filter((id) => !held.has(id)));
    await settleRows(client, mapping.legacyTable, read);
    await enqueueRows(client, mapping.legacyTable, 'parent', plan.waiting.map((w) => ({ rowId: w.legacyId, reason: w.reason })), ctx.runId);
    await queueOrders(client, plan.writeBack);

    const result: BatchResult = {
      read: plan.read,
      written,
      deleted,
      unchanged: plan.unchanged.length + plan.touches.length,
      heldBack: plan.held.length,
      conflicts: plan.conflicts.length,
      waiting: plan.waiting.length,
      cursor: ctx.cursor ?? ctx.reached ?? { ts: null, id: 0 },
      replayed: false,
      reviews: [...reviewIds].map(([legacyId, conflictId]) => ({ conflictId, table: mapping.legacyTable, legacyId })),
    };
    await finishBatch(client, ctx.batchKey, result);
    await addBatchCounts(client, ctx.runId, result);
    if (ctx.cursor) await advanceWatermark(client, mapping.legacyTable, DIRECTION, ctx.mode, ctx.cursor);
    return result;
  });
}

/** What the reconcile needs from PostgreSQL, read in the batch's transaction: the new rows it may change are locked. */
async function readTargets(client: pg.PoolClient, mapping: TableMapping, batch: ConvertedBatch): Promise<Omit<Parameters<typeof planToNew>[0], 'cfg' | 'batch'>> {
  const ids = [...batch.converted.map((r) => r.legacyId), ...batch.deleted];
  const current = new Map<number, TargetRow>();
  if (ids.length > 0) {
    const res = await client.query<{ id: number; legacy_id: number; row: Record<string, unknown> }>(
      `SELECT id, legacy_id, to_jsonb(t) AS row FROM ${mapping.newTable} t WHERE legacy_id = ANY($1::int[]) FOR UPDATE`,
      [idArray(ids)],
    );
    for (const r of res.rows) current.set(r.legacy_id, { id: r.id, row: r.row });
  }
  const parents = new Map<string, Map<number, number>>();
  for (const p of mapping.parents) {
    const wanted = [...new Set(batch.converted.map((r) => r.parents[p.column]).filter((v): v is number => v !== null))];
    const res = wanted.length === 0 ? { rows: [] } : await client.query<{ id: number; legacy_id: number }>(`SELECT id, legacy_id FROM ${p.newTable} WHERE legacy_id = ANY($1::int[])`, [idArray(wanted)]);
    parents.set(p.newColumn, new Map(res.rows.map((r) => [r.legacy_id, r.id])));
  }
  const keyOwners = new Map<string, { id: number; legacyId: number | null }>();
  if (mapping.naturalKey && batch.converted.length > 0) {
    const res = await client.query<{ id: number; legacy_id: number | null; key: string }>(
      `SELECT id, legacy_id, ${mapping.naturalKey} AS key FROM ${mapping.newTable} WHERE ${mapping.naturalKey} = ANY($1::text[])`,
      [batch.converted.map((r) => String(r.values[mapping.naturalKey]))],
    );
    for (const k of res.rows) keyOwners.set(k.key, { id: k.id, legacyId: k.legacy_id });
  }
  return { states: await readRowStates(client, mapping.legacyTable, ids), current, parents, keyOwners };
}

function recordset(mapping: TableMapping): string {
  const types: Record<string, string> = { legacy_id: 'integer', ...mapping.newColumns };
  return writtenColumns(mapping)
    .map((c) => `${c} ${types[c] ?? 'integer'}`)
    .join(', ');
}

const input = (rows: PlannedRow[]) => JSON.stringify(rows.map((r) => ({ ...r.values, legacy_id: r.legacyId })));

async function insertRows(client: pg.PoolClient, mapping: TableMapping, rows: PlannedRow[], ctx: BatchContext): Promise<number> {
  if (rows.length === 0) return 0;
  const t = mapping.newTable;
  const cols = writtenColumns(mapping).join(', ');
  const res = await client.query(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${recordset(mapping)})),
     w AS (INSERT INTO ${t} AS t (${cols}) SELECT ${cols} FROM input ON CONFLICT (legacy_id) DO NOTHING RETURNING t.*)
     ${journalWritten({ table: t, operation: 'insert', from: 'w', before: 'NULL::jsonb', after: 'to_jsonb(w)' })}`,
    [input(rows), ctx.runId, ctx.batchKey],
  );
  return res.rowCount ?? 0;
}

/** Rows that exist (locked by readTargets): every written column set, deleted_at cleared, journaled with their before-images. */
async function updateRows(client: pg.PoolClient, mapping: TableMapping, rows: PlannedRow[], ctx: BatchContext): Promise<number> {
  if (rows.length === 0) return 0;
  const t = mapping.newTable;
  const set = writtenColumns(mapping)
    .filter((c) => c !== 'legacy_id')
    .map((c) => `${c} = i.${c}`)
    .join(', ');
  const res = await client.query(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${recordset(mapping)})),
     b AS (SELECT t.* FROM ${t} t JOIN input i ON t.legacy_id = i.legacy_id),
     w AS (UPDATE ${t} AS t SET ${set}, deleted_at = NULL FROM input i WHERE t.legacy_id = i.legacy_id RETURNING t.*)
     ${journalWritten({ table: t, operation: 'update', from: 'w JOIN b ON b.id = w.id', before: 'to_jsonb(b)', after: 'to_jsonb(w)' })}`,
    [input(rows), ctx.runId, ctx.batchKey],
  );
  return res.rowCount ?? 0;
}

async function touchRows(client: pg.PoolClient, mapping: TableMapping, rows: PlannedRow[], ctx: BatchContext): Promise<void> {
  if (rows.length === 0) return;
  const t = mapping.newTable;
  await client.query(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(legacy_id integer, updated_at timestamptz)),
     b AS (SELECT t.* FROM ${t} t JOIN input i ON t.legacy_id = i.legacy_id),
     w AS (UPDATE ${t} AS t SET updated_at = i.updated_at FROM input i WHERE t.legacy_id = i.legacy_id RETURNING t.*)
     ${journalWritten({ table: t, operation: 'update', from: 'w JOIN b ON b.id = w.id', before: 'to_jsonb(b)', after: 'to_jsonb(w)' })}`,
    [input(rows), ctx.runId, ctx.batchKey],
  );
}

async function markDeleted(client: pg.PoolClient, mapping: TableMapping, legacyIds: number[], ctx: BatchContext): Promise<number> {
  if (legacyIds.length === 0) return 0;
  const t = mapping.newTable;
  const res = await client.query(
    `WITH b AS (SELECT t.* FROM ${t} t WHERE t.legacy_id = ANY($1::int[]) AND t.deleted_at IS NULL),
     w AS (UPDATE ${t} t SET deleted_at = now() FROM b WHERE t.id = b.id RETURNING t.*)
     ${journalWritten({ table: t, operation: 'delete', from: 'w JOIN b ON b.id = w.id', before: 'to_jsonb(b)', after: 'to_jsonb(w)' })}`,
    [idArray(legacyIds), ctx.runId, ctx.batchKey],
  );
  return res.rowCount ?? 0;
}

// ─────────────────────────────── the write-back's record ───────────────────────────────

/**
 * PostgreSQL's side of a write-back batch, after the legacy sink wrote: new orders take
 * their legacy row's id, legacy writes are journaled, legacy's new content becomes what the
 * sync last saw (so legacy → new skips it: no ping-pong) and the order as written the agreed
 * base (kept explicitly when the order changed since it was captured), held-back orders are
 * recorded, reviews see the new system's latest version, the outbox entries are done.
 */
export function recordWriteBack(
  pool: pg.Pool,
  plan: WriteBackPlan,
  results: LegacyWriteResult[],
  ctx: { runId: string; batchKey: string },
): Promise<BatchResult> {
  return inTransaction(pool, async (client) => {
    const prior = await claimBatch(client, { key: ctx.batchKey, runId: ctx.runId, table: 'deliveries', direction: 'new-to-legacy' });
    if (prior) return prior;
    await asSync(client);
    const done = results.filter((r) => r.operation !== 'skipped') as (LegacyWriteResult & { legacyId: number; hash: string; ts: string })[];
    await client.query(
      `UPDATE orders o SET legacy_id = x.legacy_id FROM jsonb_to_recordset($1::jsonb) AS x(order_id int, legacy_id int)
       WHERE o.id = x.order_id AND o.legacy_id IS DISTINCT FROM x.legacy_id`,
      [JSON.stringify(done.map((r) => ({ order_id: r.orderId, legacy_id: r.legacyId })))],
    );
    await journal(
      client,
      ctx.runId,
      ctx.batchKey,
      done
        .filter((r) => r.operation !== 'unchanged')
        .map((r) => ({ side: 'legacy', table: 'deliveries', rowId: r.legacyId, legacyId: r.legacyId, operation: r.operation as 'insert' | 'update', before: r.before, after: r.after })),
    );
    const now = await client.query<{ id: number; row: Record<string, unknown> }>(`SELECT id, to_jsonb(o) AS row FROM orders o WHERE id = ANY($1::int[])`, [idArray(done.map((r) => r.orderId))]);
    const current = new Map(now.rows.map((r) => [r.id, r.row]));
    const columns = mergeColumns(deliveriesMapping);
    await recordWrittenBack(
      client,
      'deliveries',
      done.map((r) => {
        const written = plan.images[r.orderId];
        const still = current.get(r.orderId);
        const unchangedSince = written && still && sameImage(columns, imageOf(deliveriesMapping, written), imageOf(deliveriesMapping, still));
        return { legacyId: r.legacyId, hash: r.hash, ts: r.ts, base: unchangedSince ? null : (written ?? null) };
      }),
    );
    // A delivery legacy changed since it was last read is read again by the next legacy → new pass, whatever its timestamp says.
    const skipped = results.filter((r) => r.operation === 'skipped' && r.legacyId !== null);
    await enqueueRows(client, 'deliveries', 'repair', skipped.map((r) => ({ rowId: r.legacyId!, reason: r.reason ?? 'changed in legacy before its write-back' })), ctx.runId);
    await recordHeld(client, 'deliveries', 'new-to-legacy', plan.held, ctx.runId);
    await resolveHeld(client, 'deliveries', 'new-to-legacy', done.map((r) => r.orderId));
    await updateReviews(client, 'new', plan.reviewUpdates.map((u) => ({ reviewId: u.reviewId, version: u.version })));
    await markProcessed(client, plan.outboxIds, ctx.runId);
    const result: BatchResult = {
      read: plan.read,
      written: done.filter((r) => r.operation === 'insert' || r.operation === 'update').length,
      deleted: 0,
      unchanged: done.filter((r) => r.operation === 'unchanged').length + results.filter((r) => r.operation === 'skipped').length + plan.reviewUpdates.length,
      heldBack: plan.held.length,
      conflicts: 0,
      waiting: 0,
      cursor: { ts: null, id: plan.outboxIds.at(-1) ?? 0 },
      replayed: false,
      reviews: [],
    };
    await finishBatch(client, ctx.batchKey, result);
    await addBatchCounts(client, ctx.runId, result);
    return result;
  });
}

function sameImage(columns: Record<string, string>, a: NewValues, b: NewValues): boolean {
  return [...Object.entries(columns), ['updated_at', 'timestamptz'], ['deleted_at', 'timestamptz']].every(
    ([c, t]) => sameValue(t, a[c], b[c]),
  );
}
