import type { TableConfig } from '../config/tables';
import { sameValue } from '../convert/canonical';
import type { ConvertedBatch, ConvertedRow, HeldRow } from '../convert/toNew';
import type { NewValues, TableMapping } from '../convert/tables';
import { mergeRow, type ColumnConflict, type MergeColumns, type Merged } from './merge';

/**
 * Reconcile, legacy → new (pure): what a converted batch does to PostgreSQL, decided from
 * the legacy rows, the new rows as they are (read under lock by the sink) and what the sync
 * last saw of each row. A row whose content did not change is skipped, or only its
 * updated_at carried over (a touch); a row the new system did not change since the sync
 * takes legacy's values; a row both sides changed is merged column by column; a deletion
 * against a change follows the table's delete rule. Manual conflicts leave the row alone and
 * open a review.
 */

/** What the sync last saw of a row (sync_row_state). */
export interface RowState {
  legacyId: number;
  contentHash: string;
  legacyTs: string | null;
  /** The agreed image, or null: the new row as it is now. */
  base: Record<string, unknown> | null;
  /** Legacy's last-seen image while legacy does not hold the base. */
  legacyBase: Record<string, unknown> | null;
  reviewId: number | null;
}

/** A legacy row whose delivery was deleted, waiting to be created again (update_wins). */
export const ABSENT = 'absent';

/** A new row as `to_jsonb` gives it, by legacy id. */
export interface TargetRow {
  id: number;
  row: Record<string, unknown>;
}

/** Legacy id → new id (a Map, or a load's ParentIds). */
export interface IdLookup {
  get(legacyId: number): number | undefined;
}

export interface ToNewInput {
  cfg: TableConfig;
  batch: ConvertedBatch;
  states: Map<number, RowState>;
  current: Map<number, TargetRow>;
  /** Per parent's new column: legacy id → new id. */
  parents: Map<string, IdLookup>;
  /** Natural key → its owner in the new table. */
  keyOwners: Map<string, { id: number; legacyId: number | null }>;
  /**
   * Natural keys inserted earlier in the same batch, with their legacy ids (a load's batch is
   * the whole table, planned page after page), added to as rows are planned for insertion.
   */
  insertedKeys?: Map<string, number>;
}

export interface PlannedRow {
  legacyId: number;
  values: NewValues;
}

/** The row state after the batch; `keep` leaves a field as it is. */
export interface StateWrite {
  legacyId: number;
  hash: string;
  ts: string | null;
  base: 'now' | 'keep';
  legacyBase: NewValues | null | 'keep';
  /** Opens a review: the conflict recorded for this row becomes its review. */
  review?: boolean;
}

export interface ConflictRecord {
  legacyId: number;
  newId: number | null;
  kind: 'update' | 'delete';
  rule: string;
  outcome: 'legacy' | 'new' | 'merged' | 'manual' | 'deleted' | 'kept';
  base: NewValues | null;
  legacy: NewValues | null;
  new: NewValues | null;
  resolved: NewValues | null;
  columns: ColumnConflict[];
}

export interface ToNewPlan {
  inserts: PlannedRow[];
  /** Full rows (every mapped column, deleted_at cleared). */
  updates: PlannedRow[];
  /** updated_at alone: legacy saved the row without changing it. */
  touches: PlannedRow[];
  /** Legacy ids whose legacy row is gone: the new row gets deleted_at. */
  deletes: number[];
  states: StateWrite[];
  /** Row states of rows gone from legacy. */
  forget: number[];
  held: HeldRow[];
  /** Rows waiting for a parent (the parent queue). */
  waiting: { legacyId: number; reason: string }[];
  conflicts: ConflictRecord[];
  /** Rows under review that legacy changed again: the review shows the new legacy version. */
  reviewUpdates: { reviewId: number; legacy: NewValues | null }[];
  /** New ids whose legacy row must receive the merge's result (queued for the write-back). */
  writeBack: number[];
  unchanged: number[];
  read: number;
}

/** The merged columns: the row's content, not updated_at (nor deleted_at, which deletions decide). */
export function mergeColumns(mapping: TableMapping): MergeColumns {
  const out: MergeColumns = {};
  for (const [c, type] of Object.entries(mapping.newColumns)) if (c !== 'updated_at') out[c] = type;
  for (const p of mapping.parents) out[p.newColumn] = 'integer';
  return out;
}

/** A new row (or a stored base) as merge values: the mapped columns and parents, and deleted_at. */
export function imageOf(mapping: TableMapping, row: Record<string, unknown>): NewValues {
  const out: NewValues = {};
  for (const c of [...Object.keys(mapping.newColumns), ...mapping.parents.map((p) => p.newColumn), 'deleted_at']) {
    out[c] = (row[c] ?? null) as NewValues[string];
  }
  return out;
}

const isDeleted = (image: NewValues) => image.deleted_at !== null && image.deleted_at !== undefined;

export function planToNew(input: ToNewInput): ToNewPlan {
  const { cfg, batch } = input;
  const mapping = cfg.mapping;
  const writesBack = cfg.directions.includes('new-to-legacy');
  const columns = mergeColumns(mapping);
  const plan: ToNewPlan = {
    inserts: [],
    updates: [],
    touches: [],
    deletes: [],
    states: [],
    forget: [],
    held: [...batch.held],
    waiting: [],
    conflicts: [],
    reviewUpdates: [],
    writeBack: [],
    unchanged: [],
    read: batch.converted.length + batch.held.length + batch.deleted.length,
  };

  // Keys of the rows this batch inserts: a second row with one of them is held back, as one whose key an existing row owns.
  const insertedKeys = input.insertedKeys ?? new Map<string, number>();
  for (const row of batch.converted) {
    const state = input.states.get(row.legacyId);
    const current = input.current.get(row.legacyId);

    const taken = legacyValues(input, row, insertedKeys);
    if ('waiting' in taken) {
      plan.waiting.push({ legacyId: row.legacyId, reason: taken.waiting });
      continue;
    }
    if ('held' in taken) {
      plan.held.push(taken.held);
      continue;
    }
    const legacy = taken.values;
    const seen = (patch: Partial<StateWrite> = {}): StateWrite => ({ legacyId: row.legacyId, hash: row.hash, ts: row.ts, base: 'now', legacyBase: null, ...patch });

    if (!current) {
      plan.inserts.push({ legacyId: row.legacyId, values: legacy });
      insertedKey(mapping, insertedKeys, row.legacyId, legacy);
      plan.states.push(seen());
      continue;
    }
    const now = imageOf(mapping, current.row);

    if (state?.reviewId != null) {
      // Under review: the review shows legacy's latest version; neither side is written.
      plan.reviewUpdates.push({ reviewId: state.reviewId, legacy });
      plan.states.push(seen({ base: 'keep', legacyBase: 'keep' }));
      plan.unchanged.push(row.legacyId);
      continue;
    }

    if (state && state.contentHash === row.hash) {
      // Same content. A new updated_at is a touch: carried over when the new side has nothing of its own pending.
      const pending = state.base !== null || state.legacyBase !== null;
      if (!pending && !sameInstant(legacy.updated_at, now.updated_at)) {
        plan.touches.push({ legacyId: row.legacyId, values: { updated_at: legacy.updated_at } });
        plan.states.push(seen({ base: 'keep', legacyBase: 'keep' }));
      } else {
        plan.unchanged.push(row.legacyId);
        if (state.legacyTs !== row.ts) plan.states.push(seen({ base: 'keep', legacyBase: 'keep' }));
      }
      continue;
    }

    // The images the merge compares. No state (a row the sync never saw): the new row is taken as agreed.
    const base = state?.base ? imageOf(mapping, state.base) : now;
    const legacyBase = state?.legacyBase ? imageOf(mapping, state.legacyBase) : base;
    const newDeleted = isDeleted(now) && !isDeleted(base);

    if (newDeleted && writesBack) {
      // The new system deleted the order; legacy changed the delivery.
      const rule = cfg.deleteConflict;
      const record: ConflictRecord = { legacyId: row.legacyId, newId: current.id, kind: 'delete', rule, outcome: 'deleted', base, legacy, new: now, resolved: null, columns: [] };
      if (rule === 'delete_wins') {
        plan.conflicts.push(record);
        plan.states.push(seen({ base: 'keep', legacyBase: legacy }));
        continue;
      }
      if (rule === 'manual') {
        plan.conflicts.push({ ...record, outcome: 'manual' });
        plan.states.push(seen({ base: 'keep', legacyBase: 'keep', review: true }));
        continue;
      }
    }

    const merged: Merged = mergeRow(columns, { base, legacyBase, legacy, new: { ...now, deleted_at: null } }, cfg.rules);
    if (merged.manual.length > 0) {
      plan.conflicts.push(conflictOf(row.legacyId, current.id, 'manual', cfg.rules.rule, base, legacy, now, null, merged));
      plan.states.push(seen({ base: 'keep', legacyBase: 'keep', review: true }));
      continue;
    }
    const values: NewValues = { ...merged.values, deleted_at: null };
    if (merged.conflicts.length > 0) {
      const outcome = merged.sameAsLegacy ? 'legacy' : merged.sameAsNew ? 'new' : 'merged';
      plan.conflicts.push(conflictOf(row.legacyId, current.id, outcome, cfg.rules.rule, base, legacy, now, values, merged));
    } else if (newDeleted) {
      plan.conflicts.push({ legacyId: row.legacyId, newId: current.id, kind: 'delete', rule: cfg.deleteConflict, outcome: 'kept', base, legacy, new: now, resolved: values, columns: [] });
    }
    if (!merged.sameAsNew || isDeleted(now)) plan.updates.push({ legacyId: row.legacyId, values });
    else plan.unchanged.push(row.legacyId);
    // Legacy lacks part of the result (the new side's changes): it keeps its last-seen image as its base until written back.
    const legacyHolds = merged.sameAsLegacy;
    plan.states.push(seen({ legacyBase: legacyHolds ? null : legacy }));
    if (!legacyHolds && writesBack) plan.writeBack.push(current.id);
  }

  for (const legacyId of batch.deleted) {
    const state = input.states.get(legacyId);
    const current = input.current.get(legacyId);
    if (state?.reviewId != null) {
      plan.reviewUpdates.push({ reviewId: state.reviewId, legacy: null });
      continue;
    }
    if (!current || isDeleted(imageOf(mapping, current.row))) {
      plan.forget.push(legacyId);
      continue;
    }
    const now = imageOf(mapping, current.row);
    const changedInNew = writesBack && state?.base != null && !sameContent(columns, imageOf(mapping, state.base), now);
    if (changedInNew) {
      // Legacy deleted the delivery; the new system changed the order.
      const rule = cfg.deleteConflict;
      const base = imageOf(mapping, state!.base!);
      const record: ConflictRecord = { legacyId, newId: current.id, kind: 'delete', rule, outcome: 'deleted', base, legacy: null, new: now, resolved: null, columns: [] };
      if (rule === 'update_wins') {
        plan.conflicts.push({ ...record, outcome: 'kept', resolved: now });
        plan.states.push({ legacyId, hash: ABSENT, ts: null, base: 'keep', legacyBase: 'keep' });
        plan.writeBack.push(current.id);
        continue;
      }
      if (rule === 'manual') {
        plan.conflicts.push({ ...record, outcome: 'manual' });
        plan.states.push({ legacyId, hash: ABSENT, ts: null, base: 'keep', legacyBase: 'keep', review: true });
        continue;
      }
      plan.conflicts.push(record);
    }
    plan.deletes.push(legacyId);
    plan.forget.push(legacyId);
  }
  return plan;
}

/**
 * A converted row's values as the new table takes them (parents resolved, deleted_at cleared),
 * or why it waits for a parent, or its held-back entry when another row has its natural key:
 * a row of the new table (keyOwners), or one the batch inserts before it (insertedKeys).
 * The row's own values are completed in place, not copied (a copy per row was a tenth of what a
 * load's page allocates): the caller gives the row up.
 */
export function legacyValues(
  input: Pick<ToNewInput, 'cfg' | 'parents' | 'keyOwners'>,
  row: ConvertedRow,
  insertedKeys: Map<string, number>,
): { values: NewValues } | { waiting: string } | { held: HeldRow } {
  const mapping = input.cfg.mapping;
  const resolved = resolveParents(input, row);
  if (typeof resolved === 'string') return { waiting: resolved };
  const values = resolved;
  values.deleted_at = null;
  if (mapping.naturalKey) {
    const key = String(values[mapping.naturalKey]);
    const owner = input.keyOwners.get(key);
    const earlier = insertedKeys.get(key);
    const taken =
      owner && owner.legacyId !== row.legacyId
        ? `already belongs to ${mapping.newTable} id ${owner.id} (legacy_id ${owner.legacyId ?? 'none'})`
        : earlier !== undefined && earlier !== row.legacyId
          ? `is inserted for legacy_id ${earlier} in the same batch`
          : null;
    if (taken) return { held: { legacyId: row.legacyId, hash: row.hash, reasonKind: 'key_collision', reason: `${mapping.naturalKey} ${key} ${taken}`, raw: { id: row.legacyId, ...values } } };
  }
  return { values };
}

/** A row planned for insertion owns its natural key for the rest of the batch. */
export function insertedKey(mapping: TableMapping, insertedKeys: Map<string, number>, legacyId: number, values: NewValues): void {
  if (mapping.naturalKey) insertedKeys.set(String(values[mapping.naturalKey]), legacyId);
}

/** Parents resolved to new ids, or why the row must wait for them. */
function resolveParents(input: Pick<ToNewInput, 'cfg' | 'parents'>, row: ConvertedRow): NewValues | string {
  const values = row.values;
  for (const p of input.cfg.mapping.parents) {
    const legacyParent = row.parents[p.column];
    if (legacyParent === null) {
      if (p.required) return `${p.column} is NULL`;
      values[p.newColumn] = null;
      continue;
    }
    const newId = input.parents.get(p.newColumn)?.get(legacyParent);
    if (newId === undefined) return `${p.column} ${legacyParent} has no ${p.newTable} row yet (legacy ${p.legacyTable} row not synced)`;
    values[p.newColumn] = newId;
  }
  return values;
}

function conflictOf(
  legacyId: number,
  newId: number,
  outcome: ConflictRecord['outcome'],
  rule: string,
  base: NewValues,
  legacy: NewValues,
  now: NewValues,
  resolved: NewValues | null,
  merged: Merged,
): ConflictRecord {
  return { legacyId, newId, kind: 'update', rule, outcome, base, legacy, new: now, resolved, columns: merged.conflicts };
}

function sameInstant(a: unknown, b: unknown): boolean {
  return sameValue('timestamptz', a, b);
}

function sameContent(columns: MergeColumns, a: NewValues, b: NewValues): boolean {
  return Object.entries(columns).every(([c, t]) => sameValue(t, a[c], b[c])) && sameInstant(a.updated_at, b.updated_at);
}
