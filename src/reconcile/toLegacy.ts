import type { CapturedOrder } from '../capture/outboxReader';
import type { HeldRow } from '../convert/toNew';
import { orderToLegacy, orderValues, type Expectation, type LegacyWrite } from '../convert/toLegacy';
import { RuleError } from '../convert/rules';
import type { EudcMap } from '../encoding/eudc';
import { ABSENT, type RowState } from './toNew';

/**
 * Reconcile, new → legacy (pure): what the write-back does with the orders the outbox names.
 * Legacy receives an order only if it still holds what the sync last saw of it (the legacy
 * sink checks that in its own transaction); a legacy row changed since is left to the next
 * legacy → new pass, whose three-way merge sees both sides' changes. Orders that cannot be
 * written exactly are held back, orders under review update their review.
 */

export interface WriteBackPlan {
  writes: LegacyWrite[];
  held: HeldRow[];
  /** Orders under review that the new system changed again: the review shows their latest version. */
  reviewUpdates: { reviewId: number; version: Record<string, unknown> }[];
  /** Each order's image as captured, by order id: the base once legacy holds it. */
  images: Record<number, Record<string, unknown>>;
  outboxIds: number[];
  read: number;
}

export function planToLegacy(input: {
  /** The outbox entries taken (done when the batch commits). */
  outboxIds: number[];
  /** The orders they name (or the one order a resolution writes back). */
  orderIds: number[];
  orders: Map<number, CapturedOrder>;
  states: Map<number, RowState>;
  eudc: EudcMap;
}): WriteBackPlan {
  const plan: WriteBackPlan = { writes: [], held: [], reviewUpdates: [], images: {}, outboxIds: input.outboxIds, read: 0 };
  const hold = (orderId: number, reasonKind: HeldRow['reasonKind'], reason: string, raw: Record<string, unknown>) =>
    plan.held.push({ legacyId: orderId, hash: '', reasonKind, reason, raw });

  for (const orderId of new Set(input.orderIds)) {
    plan.read++;
    const captured = input.orders.get(orderId);
    if (!captured) {
      hold(orderId, 'rule', 'order deleted from the new system (no row): deletions are not written back to legacy', { id: orderId });
      continue;
    }
    const { order, image } = captured;
    const state = order.legacy_id === null ? undefined : input.states.get(order.legacy_id);
    if (state?.reviewId != null) {
      plan.reviewUpdates.push({ reviewId: state.reviewId, version: image });
      continue;
    }
    if (order.deleted_at) {
      hold(orderId, 'rule', 'order deleted in the new system: deletions are not written back to legacy', { id: orderId, legacy_id: order.legacy_id });
      continue;
    }
    let expect: Expectation;
    if (order.legacy_id === null) expect = { insert: true };
    else if (!state) {
      hold(orderId, 'rule', `legacy delivery ${order.legacy_id} has not been read by the sync yet: the order is written back after it has`, { id: orderId, legacy_id: order.legacy_id });
      continue;
    } else if (state.contentHash === ABSENT) expect = { absent: order.legacy_id };
    else expect = { legacyId: order.legacy_id, hash: state.contentHash };
    try {
      plan.writes.push({ orderId, expect, values: orderToLegacy(order, input.eudc), order: 'legacyId' in expect ? orderValues(order) : null });
      plan.images[orderId] = image;
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      const kind = /has no legacy/.test(err.message) ? 'missing_parent' : 'encode';
      hold(orderId, kind, err.message, { ...orderValues(order), id: orderId, legacy_id: order.legacy_id });
    }
  }
  return plan;
}
