import { idArray, type Queryable } from '../db/postgres';
import type { OrderForLegacy } from '../convert/toLegacy';

/**
 * Capture, new → legacy: the orders the outbox names, as they are now, with their parents'
 * legacy ids, and each as `to_jsonb` gives it (the image the write-back's bookkeeping keeps).
 */

export interface CapturedOrder {
  order: OrderForLegacy;
  image: Record<string, unknown>;
}

export async function readOrders(db: Queryable, orderIds: number[]): Promise<Map<number, CapturedOrder>> {
  if (orderIds.length === 0) return new Map();
  const res = await db.query<Record<string, unknown> & { image: Record<string, unknown> }>(
    `SELECT o.id, o.legacy_id, o.customer_id, c.legacy_id AS customer_legacy_id, o.driver_id, d.legacy_id AS driver_legacy_id,
            to_char(o.delivery_date, 'YYYY-MM-DD') AS delivery_date, o.qty_50kg, o.qty_20kg, o.qty_16kg, o.qty_10kg, o.qty_4kg,
            o.status::text AS status, o.amount, o.notes, o.created_at, o.updated_at, o.deleted_at, to_jsonb(o) AS image
       FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN drivers d ON d.id = o.driver_id
      WHERE o.id = ANY($1::int[])`,
    [idArray(orderIds)],
  );
  const iso = (v: unknown) => (v === null ? null : new Date(v as string).toISOString());
  return new Map(
    res.rows.map(({ image, ...r }) => [
      r.id as number,
      { order: { ...r, created_at: iso(r.created_at), updated_at: iso(r.updated_at), deleted_at: iso(r.deleted_at) } as OrderForLegacy, image },
    ]),
  );
}
