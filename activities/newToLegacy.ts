import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PoolClient } from 'pg';
import { ClaimMissingError } from '../src/claims';
import { tableConfig } from '../src/config/tables';
import { LegacyFileError, openLegacy } from '../src/db/legacy';
import { inTransaction } from '../src/db/postgres';
import { contentHash, convertRow, rawImage, type HeldRow, type RawRow } from '../src/mapping/convertRow';
import { deliveries, type NewValues } from '../src/mapping/tables';
import { RuleError, type OrderStatus } from '../src/mapping/rules';
import { orderToLegacy, type LegacyValue, type OrderForLegacy } from '../src/mapping/toLegacy';
import { claimBatch, finishBatch, recordConflicts, recordHeld, resolveHeld, type BatchResult, type ConflictRecord } from '../src/sync/applyToNew';
import { resolveConflict } from '../src/sync/conflicts';
import { readByIds } from '../src/sync/legacyReader';
import { writeDeliveries, type LegacyWrite } from '../src/sync/legacyWriter';
import type { ActivityDeps } from './deps';

/**
 * New → legacy for deliveries, in two activities like the other direction: fetch (the
 * orders outbox, parked in Redis) → write back: convert (UTF-8 → CP950), reconcile
 * (conflicts with legacy edits), then the legacy file and PostgreSQL's bookkeeping. The
 * write is idempotent: the legacy write is logged in the file under its batch key, the
 * PostgreSQL side under the same key, so a retry after a crash between the two never writes
 * a second legacy row.
 */

const DIRECTION = 'new-to-legacy';
const TABLE = 'deliveries';

interface OrderRow extends OrderForLegacy {
  new_values: NewValues;
}

export interface FetchedClaim {
  outboxIds: number[];
  orders: OrderRow[];
  /** Orders gone from PostgreSQL (hard-deleted). */
  gone: number[];
}

export interface PlannedWrite extends LegacyWrite {
  orderUpdatedAt: string;
  /** Merged conflict outcome: the order takes these values too. */
  mergedValues?: NewValues;
}

export interface WritePlan {
  outboxIds: number[];
  writes: PlannedWrite[];
  held: HeldRow[];
  conflicts: ConflictRecord[];
  /** Legacy won: the order takes the legacy values now, and the delivery counts as synced. */
  legacyWins: { orderId: number; legacyId: number; hash: string; values: NewValues }[];
  unchanged: number[];
  read: number;
}

const ORDER_SELECT = `
  SELECT o.id, o.legacy_id, o.customer_id, c.legacy_id AS customer_legacy_id, o.driver_id, d.legacy_id AS driver_legacy_id,
         to_char(o.delivery_date, 'YYYY-MM-DD') AS delivery_date, o.qty_50kg, o.qty_20kg, o.qty_16kg, o.qty_10kg, o.qty_4kg,
         o.status::text AS status, o.amount, o.notes, o.created_at, o.updated_at, o.deleted_at
  FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN drivers d ON d.id = o.driver_id
  WHERE o.id = ANY($1::int[])`;

function newValuesOf(o: OrderForLegacy): NewValues {
  return {
    delivery_date: o.delivery_date,
    qty_50kg: o.qty_50kg,
    qty_20kg: o.qty_20kg,
    qty_16kg: o.qty_16kg,
    qty_10kg: o.qty_10kg,
    qty_4kg: o.qty_4kg,
    status: o.status,
    amount: o.amount,
    notes: o.notes,
    created_at: o.created_at,
    updated_at: o.updated_at,
    customer_id: o.customer_id,
    driver_id: o.driver_id,
  };
}

function withValues(o: OrderRow, v: NewValues): OrderRow {
  return { ...o, ...v, status: v.status as OrderStatus } as OrderRow;
}

function nonRetryable(err: unknown): never {
  if (err instanceof LegacyFileError) throw ApplicationFailure.nonRetryable(err.message, 'LegacyFileError');
  if (err instanceof ClaimMissingError) throw ApplicationFailure.nonRetryable(err.message, 'ClaimMissing');
  throw err;
}

const ORDER_COLUMNS =
  'delivery_date date, qty_50kg int, qty_20kg int, qty_16kg int, qty_10kg int, qty_4kg int, status order_status, amount int, notes text, updated_at timestamptz, customer_id int, driver_id int';

async function updateOrders(client: PoolClient, rows: Record<string, unknown>[], runId: string, batchKey: string): Promise<void> {
  if (rows.length === 0) return;
  const cols = ORDER_COLUMNS.split(', ').map((c) => c.split(' ')[0]);
  await client.query(`SELECT 1 FROM orders WHERE id = ANY($1::int[]) FOR UPDATE`, [rows.map((r) => r.id)]);
  await client.query(
    `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id int, ${ORDER_COLUMNS})),
     before AS (SELECT o.* FROM orders o JOIN input i ON o.id = i.id),
     upd AS (UPDATE orders o SET ${cols.map((c) => `${c} = i.${c}`).join(', ')} FROM input i WHERE o.id = i.id RETURNING o.*)
     INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after)
     SELECT $2, $3, 'new', 'orders', u.id, u.legacy_id, 'update', to_jsonb(b), to_jsonb(u) FROM upd u JOIN before b ON b.id = u.id`,
    [JSON.stringify(rows), runId, batchKey],
  );
}

/**
 * convert → reconcile of a fetched outbox batch: orders → legacy column values (text CP950
 * cannot hold, or a parent legacy lacks, holds the order back), then conflicts with legacy
 * edits made since the delivery's last sync, resolved by the configured rule.
 */
export function createWriteBackPlanner(deps: ActivityDeps): (f: FetchedClaim) => Promise<WritePlan> {
  const held = (o: { id: number }, kind: HeldRow['reasonKind'], reason: string, raw: Record<string, unknown>): HeldRow => ({
    legacyId: o.id,
    hash: '',
    reasonKind: kind,
    reason,
    raw: raw as HeldRow['raw'],
  });

  const convert = (f: FetchedClaim): FetchedClaim & { writes: PlannedWrite[]; held: HeldRow[] } => {
    const writes: PlannedWrite[] = [];
    const heldRows: HeldRow[] = f.gone.map((id) => held({ id }, 'rule', 'order deleted in the new system: deletions are not written back to legacy', { id }));
    for (const o of f.orders) {
      if (o.deleted_at) {
        heldRows.push(held(o, 'rule', 'order deleted in the new system: deletions are not written back to legacy', { id: o.id, legacy_id: o.legacy_id }));
        continue;
      }
      try {
        writes.push({ orderId: o.id, legacyId: o.legacy_id, values: orderToLegacy(o, deps.eudc), orderUpdatedAt: o.updated_at });
      } catch (err) {
        if (!(err instanceof RuleError)) throw err;
        const kind = /has no legacy/.test(err.message) ? 'missing_parent' : 'encode';
        heldRows.push(held(o, kind, err.message, { ...o.new_values, id: o.id, legacy_id: o.legacy_id } as Record<string, unknown>));
      }
    }
    return { ...f, writes, held: heldRows };
  };

  const reconcile = async (c: FetchedClaim & { writes: PlannedWrite[]; held: HeldRow[] }): Promise<WritePlan> => {
    const cfg = tableConfig(deps.config, TABLE);
    const orderById = new Map(c.orders.map((o) => [o.id, o]));
    const legacyIds = c.writes.map((w) => w.legacyId).filter((id): id is number => id !== null);
    let legacyRows: Map<number, RawRow>;
    try {
      legacyRows = new Map(deps.legacy.read((db) => readByIds(db, deliveries, legacyIds)).map((r) => [r.id, r]));
    } catch (err) {
      nonRetryable(err);
    }
    const states = await deps.pool.query<{ legacy_id: number; content_hash: string }>(
      `SELECT legacy_id, content_hash FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`,
      [TABLE, legacyIds],
    );
    const hashOf = new Map(states.rows.map((s) => [s.legacy_id, s.content_hash]));
    const parents = await deps.pool.query<{ kind: string; id: number; legacy_id: number }>(
      `SELECT 'c' AS kind, id, legacy_id FROM customers WHERE legacy_id = ANY($1::int[])
       UNION ALL SELECT 'd', id, legacy_id FROM drivers WHERE legacy_id = ANY($2::int[])`,
      [[...legacyRows.values()].map((r) => Number(r.cols.client_id)), [...legacyRows.values()].map((r) => Number(r.cols.driver_id))],
    );
    const newIdOf = (kind: string, legacyId: unknown) => parents.rows.find((p) => p.kind === kind && p.legacy_id === Number(legacyId))?.id ?? null;

    const plan: WritePlan = { outboxIds: c.outboxIds, writes: [], held: c.held, conflicts: [], legacyWins: [], unchanged: [], read: c.orders.length + c.gone.length };
    for (const w of c.writes) {
      const order = orderById.get(w.orderId)!;
      const current = w.legacyId === null ? undefined : legacyRows.get(w.legacyId);
      if (w.legacyId !== null && !current) {
        plan.held.push(held(order, 'rule', `legacy delivery ${w.legacyId} is gone: the order is not written back`, { id: order.id, legacy_id: w.legacyId }));
        continue;
      }
      if (!current) {
        plan.writes.push(w);
        continue;
      }
      const currentHash = contentHash(current);
      // Nothing to write when legacy already holds these values (e.g. the change came from legacy).
      if (contentHash({ id: current.id, cols: { ...current.cols, ...w.values } as RawRow['cols'] }) === currentHash) {
        plan.unchanged.push(w.orderId);
        continue;
      }
      if (hashOf.get(current.id) === currentHash) {
        plan.writes.push(w);
        continue;
      }
      // Legacy changed too since the last sync of this delivery: a conflict.
      const legacy = convertRow(current, deliveries, cfg.textColumns, deps.eudc);
      const legacyValues: NewValues | null = legacy.ok
        ? { ...legacy.row.values, customer_id: newIdOf('c', current.cols.client_id), driver_id: newIdOf('d', current.cols.driver_id) }
        : null;
      const resolved = legacyValues
        ? resolveConflict(legacyValues, order.new_values, { rule: cfg.conflictResolution, mergeRules: cfg.mergeRules, tieBreaker: cfg.tieBreaker })
        : { outcome: 'new' as const, values: order.new_values };
      plan.conflicts.push({
        legacyId: current.id,
        newId: order.id,
        rule: cfg.conflictResolution,
        outcome: resolved.outcome,
        legacyVersion: legacyValues ?? (rawImage(current) as NewValues),
        newVersion: order.new_values,
        resolved: resolved.values,
      });
      if (resolved.outcome === 'legacy') {
        plan.legacyWins.push({ orderId: order.id, legacyId: current.id, hash: currentHash, values: resolved.values });
      } else if (resolved.outcome === 'new') {
        plan.writes.push(w);
      } else {
        const merged = withValues(order, resolved.values);
        plan.writes.push({ ...w, values: orderToLegacy(merged, deps.eudc), orderUpdatedAt: String(resolved.values.updated_at), mergedValues: resolved.values });
      }
    }
    return plan;
  };

  return async (f) => reconcile(convert(f));
}

export function createNewToLegacyActivities(deps: ActivityDeps) {
  const planWriteBack = createWriteBackPlanner(deps);

  return {
    /** Unprocessed outbox entries, oldest first; an order changed several times is read once, as it is now. */
    async fetchOutbox(input: { batchKey: string; batchSize: number }): Promise<{ count: number }> {
      const entries = await deps.pool.query<{ id: string; order_id: number }>(
        `SELECT id, order_id FROM sync_order_outbox WHERE processed_at IS NULL ORDER BY id LIMIT $1`,
        [input.batchSize],
      );
      const ids = [...new Set(entries.rows.map((e) => e.order_id))];
      const res = await deps.pool.query(ORDER_SELECT, [ids]);
      const orders: OrderRow[] = res.rows.map((r) => {
        const o = { ...r, created_at: new Date(r.created_at).toISOString(), updated_at: new Date(r.updated_at).toISOString(), deleted_at: r.deleted_at ? new Date(r.deleted_at).toISOString() : null } as OrderRow;
        o.new_values = newValuesOf(o);
        return o;
      });
      const found = new Set(orders.map((o) => o.id));
      await deps.claims.put(`${input.batchKey}:outbox`, {
        outboxIds: entries.rows.map((e) => Number(e.id)),
        orders,
        gone: ids.filter((id) => !found.has(id)),
      } satisfies FetchedClaim);
      Context.current().heartbeat();
      return { count: entries.rows.length };
    },

    /** convert → reconcile, the legacy write (short transaction, logged under the batch key), then PostgreSQL's record of it. */
    async writeBackBatch(input: { batchKey: string; runId: string }): Promise<BatchResult> {
      const prior = await deps.pool.query<{ result: BatchResult }>(`SELECT result FROM sync_batches WHERE batch_key = $1`, [input.batchKey]);
      if (prior.rows[0]) return { ...prior.rows[0].result, replayed: true };
      const plan = await planWriteBack(await deps.claims.get<FetchedClaim>(`${input.batchKey}:outbox`).catch(nonRetryable));

      let written: ReturnType<typeof writeDeliveries> = [];
      if (plan.writes.length > 0) {
        let db;
        try {
          db = openLegacy(deps.env.LEGACY_DB_PATH, { readonly: false });
        } catch (err) {
          nonRetryable(err);
        }
        try {
          written = writeDeliveries(db, input.batchKey, plan.writes);
        } finally {
          db.close();
        }
      }
      Context.current().heartbeat();

      const updatedAtOf = new Map(plan.writes.map((w) => [w.orderId, w.orderUpdatedAt]));
      const result = await inTransaction(deps.pool, async (client) => {
        const ctx = { runId: input.runId, batchKey: input.batchKey, direction: DIRECTION, mode: 'outbox', cursor: null };
        const again = await claimBatch(client, TABLE, ctx);
        if (again) return again;
        await client.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
        const rows = written.map((r) => ({
          order_id: r.orderId,
          legacy_id: r.legacyId,
          operation: r.operation,
          before: r.before,
          after: r.after,
          hash: r.hash,
          updated_at: updatedAtOf.get(r.orderId),
        }));
        // A new order takes its legacy row's id; the sync's own write is not captured again.
        await client.query(
          `UPDATE orders o SET legacy_id = x.legacy_id FROM jsonb_to_recordset($1::jsonb) AS x(order_id int, legacy_id int)
           WHERE o.id = x.order_id AND o.legacy_id IS DISTINCT FROM x.legacy_id`,
          [JSON.stringify(rows)],
        );
        // Orders that take values from a resolution (legacy won, or merged), journaled like any write.
        const orderUpdates = [
          ...plan.writes.filter((w) => w.mergedValues).map((w) => ({ id: w.orderId, ...w.mergedValues })),
          ...plan.legacyWins.map((l) => ({ id: l.orderId, ...l.values })),
        ];
        await updateOrders(client, orderUpdates, input.runId, input.batchKey);
        await client.query(
          `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after)
           SELECT $2, $3, 'legacy', 'deliveries', x.legacy_id, x.legacy_id, x.operation, x.before, x.after
           FROM jsonb_to_recordset($1::jsonb) AS x(legacy_id int, operation text, before jsonb, after jsonb)`,
          [JSON.stringify(rows), input.runId, input.batchKey],
        );
        // The delivery as written is the synced state: legacy → new will skip it as unchanged.
        const states = [
          ...rows.map((r) => ({ legacy_id: r.legacy_id, hash: r.hash, updated_at: r.updated_at })),
          ...plan.legacyWins.map((l) => ({ legacy_id: l.legacyId, hash: l.hash, updated_at: l.values.updated_at })),
        ];
        await client.query(
          `INSERT INTO sync_row_state (table_name, legacy_id, content_hash, new_updated_at, synced_at)
           SELECT $1, x.legacy_id, x.hash, x.updated_at, now() FROM jsonb_to_recordset($2::jsonb) AS x(legacy_id int, hash text, updated_at timestamptz)
           ON CONFLICT (table_name, legacy_id) DO UPDATE SET content_hash = EXCLUDED.content_hash, new_updated_at = EXCLUDED.new_updated_at, synced_at = now()`,
          [TABLE, JSON.stringify(states)],
        );
        await recordHeld(client, TABLE, DIRECTION, plan.held, input.runId);
        await resolveHeld(client, TABLE, DIRECTION, [...written.map((r) => r.orderId), ...plan.unchanged]);
        await recordConflicts(client, TABLE, plan.conflicts, input.runId);
        await client.query(`UPDATE sync_order_outbox SET processed_at = now(), run_id = $2 WHERE id = ANY($1::bigint[])`, [plan.outboxIds, input.runId]);
        const res: BatchResult = {
          read: plan.read,
          written: written.length,
          deleted: 0,
          unchanged: plan.unchanged.length,
          heldBack: plan.held.length,
          conflicts: plan.conflicts.length,
          cursor: { ts: null, id: plan.outboxIds.at(-1) ?? 0 },
          replayed: false,
        };
        await finishBatch(client, ctx, TABLE, res);
        return res;
      });
      await deps.claims.drop(`${input.batchKey}:outbox`).catch(() => {});
      deps.log.child({ table: TABLE, direction: DIRECTION, batch: input.batchKey }).info({ ...result, cursor: undefined }, 'write-back batch applied');
      return result;
    },
  };
}
