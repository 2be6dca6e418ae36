import { idArray, type Queryable } from '../db/postgres';

/**
 * sync_order_outbox: orders changed in the new system (captured by a trigger in the changing
 * transaction; the sync's own writes are not captured), and orders the sync queues itself
 * because legacy must receive a merge's result. Consumed as a queue: entries are marked
 * processed in the transaction that records their write-back.
 */

export async function pendingOutbox(db: Queryable, limit: number): Promise<{ id: number; orderId: number }[]> {
  const res = await db.query<{ id: string; order_id: number }>(`SELECT id, order_id FROM sync_order_outbox WHERE processed_at IS NULL ORDER BY id LIMIT $1`, [limit]);
  return res.rows.map((r) => ({ id: Number(r.id), orderId: r.order_id }));
}

export async function outboxHasWork(db: Queryable): Promise<boolean> {
  const res = await db.query(`SELECT 1 FROM sync_order_outbox WHERE processed_at IS NULL LIMIT 1`);
  return (res.rowCount ?? 0) > 0;
}

/** Queues orders for the write-back, unless already waiting; the number queued. */
export async function queueOrders(db: Queryable, orderIds: number[], operation = 'SYNC'): Promise<number> {
  if (orderIds.length === 0) return 0;
  const res = await db.query(
    `INSERT INTO sync_order_outbox (order_id, operation)
     SELECT o.id, $2 FROM orders o WHERE o.id = ANY($1::int[]) AND o.deleted_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM sync_order_outbox x WHERE x.order_id = o.id AND x.processed_at IS NULL)`,
    [idArray(orderIds), operation],
  );
  return res.rowCount ?? 0;
}

export async function markProcessed(db: Queryable, ids: number[], runId: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE sync_order_outbox SET processed_at = now(), run_id = $2 WHERE id = ANY($1::bigint[])`, [idArray(ids), runId]);
}

/** Orders among these waiting to be written back (consistency checks leave them alone). */
export async function ordersWaiting(db: Queryable, orderIds: number[]): Promise<Set<number>> {
  if (orderIds.length === 0) return new Set();
  const res = await db.query<{ order_id: number }>(`SELECT DISTINCT order_id FROM sync_order_outbox WHERE processed_at IS NULL AND order_id = ANY($1::int[])`, [idArray(orderIds)]);
  return new Set(res.rows.map((r) => r.order_id));
}
