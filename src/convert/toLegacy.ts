import type { RawRow } from '../capture/rawRow';
import { encodeCp950, type TextEncodingMode } from '../encoding/cp950';
import type { EudcMap } from '../encoding/eudc';
import { sameValue } from './canonical';
import { formatLegacyTimestamp, RuleError, STATUS_TO_LEGACY, type OrderStatus } from './rules';
import { deliveries, type NewValues } from './tables';
import { convertRow } from './toNew';

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

/**
 * Why legacy could not hold an order's values as given (an operator's resolution, checked
 * before anything is written): text CP950 and the EUDC map cannot encode exactly, or a
 * status legacy has no word for. Null when it can.
 */
export function legacyRefusal(values: NewValues, eudc: EudcMap): string | null {
  const status = values.status;
  if (typeof status === 'string' && !Object.prototype.hasOwnProperty.call(STATUS_TO_LEGACY, status)) {
    return `status: '${status}' is not an order status (${Object.keys(STATUS_TO_LEGACY).join(', ')})`;
  }
  if (typeof values.notes === 'string') {
    const enc = encodeCp950(values.notes, eudc);
    if (!enc.ok) return `notes: ${enc.reason}`;
  }
  return null;
}

/** An order's values in the form legacy rows convert to: what keepUnchanged compares. */
export function orderValues(o: OrderForLegacy): NewValues {
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
  };
}

// ─────────────────────────────── writes ───────────────────────────────

/** What legacy must hold for a write to go ahead: a new row (insert), no row (a deleted delivery created again with its id), or the content last seen (its hash). */
export type Expectation = { insert: true } | { absent: number } | { legacyId: number; hash: string };

/** One order's write to legacy `deliveries`: its column values, and the order as merge values (to keep legacy's bytes where the value is unchanged). */
export interface LegacyWrite {
  orderId: number;
  expect: Expectation;
  values: Record<string, LegacyValue>;
  /** Null for an insert: legacy holds no bytes to keep (and the claim carrying a batch of inserts is about half the size). */
  order: NewValues | null;
}

/** The legacy text columns, and the order column whose value each holds. */
const TEXT_COLUMNS: [legacy: string, order: string, type: string][] = [
  ['delivery_date', 'delivery_date', 'date'],
  ['status', 'status', 'text'],
  ['notes', 'notes', 'text'],
  ['created_at', 'created_at', 'timestamptz'],
  ['updated_at', 'updated_at', 'timestamptz'],
];

/**
 * The write's values with legacy's own bytes kept for every text value it does not change:
 * CP950's duplicate codes (A2CC/A451 十), rows a patch wrote in UTF-8, old timestamp formats
 * and padding all stay as they are. A row that does not convert keeps nothing.
 */
export function keepUnchanged(current: RawRow, write: LegacyWrite, encodings: Record<string, TextEncodingMode>, eudc: EudcMap): Record<string, LegacyValue> {
  const now = convertRow(current, deliveries, encodings, eudc);
  if (!now.ok || !write.order) return write.values;
  const out = { ...write.values };
  for (const [legacy, order, type] of TEXT_COLUMNS) {
    const same = sameValue(type, now.row.values[order], write.order[order]);
    if (same) out[legacy] = current.cols[legacy] as LegacyValue;
  }
  return out;
}
