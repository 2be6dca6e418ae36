import { encodeCp950 } from '../encoding/cp950';
import type { EudcMap } from '../encoding/eudc';
import { formatLegacyTimestamp, RuleError, STATUS_TO_LEGACY, type OrderStatus } from './rules';

/**
 * New → legacy for deliveries (contract: "Rules, new to legacy"): an order's values as the
 * legacy `deliveries` columns, text as CP950 bytes with EUDC characters back to their codes.
 * Text CP950 and the map cannot encode is refused: the order is held back, nothing written.
 */

/** An order as the write-back reads it, with its parents' legacy ids. */
export interface OrderForLegacy {
  id: number;
  legacy_id: number | null;
  customer_id: number;
  customer_legacy_id: number | null;
  driver_id: number | null;
  driver_legacy_id: number | null;
  delivery_date: string;
  qty_50kg: number;
  qty_20kg: number;
  qty_16kg: number;
  qty_10kg: number;
  qty_4kg: number;
  status: OrderStatus;
  amount: number | null;
  notes: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export type LegacyValue = Buffer | number | string | null;

/** The legacy columns written, in order; text columns are bound as CP950 bytes with TEXT storage. */
export const LEGACY_DELIVERY_COLUMNS = [
  ['client_id', 'integer'],
  ['driver_id', 'integer'],
  ['delivery_date', 'text'],
  ['cylinder_50kg', 'integer'],
  ['cylinder_20kg', 'integer'],
  ['cylinder_16kg', 'integer'],
  ['cylinder_10kg', 'integer'],
  ['cylinder_4kg', 'integer'],
  ['status', 'text'],
  ['amount', 'integer'],
  ['notes', 'text'],
  ['created_at', 'text'],
  ['updated_at', 'text'],
] as const;

function cp950(text: string, column: string, eudc: EudcMap): Buffer {
  const enc = encodeCp950(text, eudc);
  if (!enc.ok) throw new RuleError(`${column}: ${enc.reason}`);
  return enc.bytes;
}

export function orderToLegacy(order: OrderForLegacy, eudc: EudcMap): Record<string, LegacyValue> {
  if (order.customer_legacy_id === null) {
    throw new RuleError(`customer ${order.customer_id} has no legacy client (customers are not written back)`);
  }
  if (order.driver_id !== null && order.driver_legacy_id === null) {
    throw new RuleError(`driver ${order.driver_id} has no legacy driver (drivers are not written back)`);
  }
  return {
    client_id: order.customer_legacy_id,
    driver_id: order.driver_legacy_id,
    delivery_date: cp950(order.delivery_date, 'delivery_date', eudc),
    cylinder_50kg: order.qty_50kg,
    cylinder_20kg: order.qty_20kg,
    cylinder_16kg: order.qty_16kg,
    cylinder_10kg: order.qty_10kg,
    cylinder_4kg: order.qty_4kg,
    status: cp950(STATUS_TO_LEGACY[order.status], 'status', eudc),
    amount: order.amount,
    notes: order.notes === null ? null : cp950(order.notes, 'notes', eudc),
    created_at: cp950(formatLegacyTimestamp(new Date(order.created_at)), 'created_at', eudc),
    updated_at: cp950(formatLegacyTimestamp(new Date(order.updated_at)), 'updated_at', eudc),
  };
}
