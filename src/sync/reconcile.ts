import type pg from 'pg';
import type { ConvertedRow, HeldRow } from '../mapping/convertRow';
import type { NewValues, TableMapping } from '../mapping/tables';
import type { TableConfig } from '../config/tables';
import type { BatchPlan, ConflictRecord, PlannedRow } from './applyToNew';
import { resolveConflict } from './conflicts';

/**
 * Decides, against PostgreSQL as it is now, what a converted batch does: skip rows whose
 * content did not change, resolve parents to new ids (a missing parent holds the row back
 * until a later cycle), refuse business-key collisions, and resolve conflicts with rows
 * changed in the new system since their last sync. Reads only; the upsert writes.
 */

interface Existing {
  id: number;
  row: Record<string, unknown>;
}

/** The new row in the shape of NewValues: instants as ISO strings, dates as 'YYYY-MM-DD'. */
function asNewValues(mapping: TableMapping, row: Record<string, unknown>): NewValues {
  const out: NewValues = {};
  for (const [col, type] of Object.entries(mapping.newColumns)) {
    const v = row[col];
    out[col] = v === null || v === undefined ? null : type === 'timestamptz' ? new Date(String(v)).toISOString() : (v as NewValues[string]);
  }
  for (const p of mapping.parents) out[p.newColumn] = (row[p.newColumn] as number | null) ?? null;
  return out;
}

export async function reconcile(
  db: pg.Pool | pg.PoolClient,
  cfg: TableConfig,
  converted: ConvertedRow[],
  held: HeldRow[],
  deleted: number[],
): Promise<BatchPlan> {
  const mapping = cfg.mapping;
  const ids = converted.map((r) => r.legacyId);
  const plan: BatchPlan = { upserts: [], deletes: deleted, unchanged: [], keptNew: [], held: [...held], conflicts: [], read: converted.length + held.length + deleted.length };
  if (ids.length === 0) return plan;

  const [states, existing, parents, keys] = await Promise.all([
    db.query<{ legacy_id: number; content_hash: string; new_updated_at: Date | null }>(
      `SELECT legacy_id, content_hash, new_updated_at FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`,
      [mapping.legacyTable, ids],
    ),
    db.query<{ id: number; legacy_id: number; row: Record<string, unknown> }>(
      `SELECT id, legacy_id, to_jsonb(t) AS row FROM ${mapping.newTable} t WHERE legacy_id = ANY($1::int[])`,
      [ids],
    ),
    Promise.all(
      mapping.parents.map(async (p) => {
        const wanted = [...new Set(converted.map((r) => r.parents[p.column]).filter((v): v is number => v !== null))];
        const res = await db.query<{ id: number; legacy_id: number }>(`SELECT id, legacy_id FROM ${p.newTable} WHERE legacy_id = ANY($1::int[])`, [wanted]);
        return new Map(res.rows.map((r) => [r.legacy_id, r.id]));
      }),
    ),
    mapping.naturalKey
      ? db.query<{ id: number; legacy_id: number | null; key: string }>(
          `SELECT id, legacy_id, ${mapping.naturalKey} AS key FROM ${mapping.newTable} WHERE ${mapping.naturalKey} = ANY($1::text[])`,
          [converted.map((r) => String(r.values[mapping.naturalKey]))],
        )
      : Promise.resolve({ rows: [] as { id: number; legacy_id: number | null; key: string }[] }),
  ]);

  const stateById = new Map(states.rows.map((s) => [s.legacy_id, s]));
  const existingById = new Map<number, Existing>(existing.rows.map((e) => [e.legacy_id, { id: e.id, row: e.row }]));
  const keyOwner = new Map(keys.rows.map((k) => [k.key, k]));

  for (const row of converted) {
    const state = stateById.get(row.legacyId);
    if (state && state.content_hash === row.hash) {
      plan.unchanged.push(row.legacyId);
      continue;
    }
    const hold = (reasonKind: HeldRow['reasonKind'], reason: string) =>
      plan.held.push({ legacyId: row.legacyId, hash: row.hash, reasonKind, reason, raw: { id: row.legacyId, ...row.values, ...row.parents } as HeldRow['raw'] });

    const values: NewValues = { ...row.values };
    let missing: string | null = null;
    mapping.parents.forEach((p, i) => {
      const legacyParent = row.parents[p.column];
      if (legacyParent === null) {
        values[p.newColumn] = null;
        if (p.required) missing = `${p.column} is NULL`;
        return;
      }
      const newId = parents[i].get(legacyParent);
      if (newId === undefined) missing ??= `${p.column} ${legacyParent} has no ${p.newTable} row yet (legacy ${p.legacyTable} row not synced)`;
      values[p.newColumn] = newId ?? null;
    });
    if (missing) {
      hold('missing_parent', missing);
      continue;
    }
    if (mapping.naturalKey) {
      const owner = keyOwner.get(String(values[mapping.naturalKey]));
      if (owner && owner.legacy_id !== row.legacyId) {
        hold(
          'key_collision',
          `${mapping.naturalKey} ${String(values[mapping.naturalKey])} already belongs to ${mapping.newTable} id ${owner.id} (legacy_id ${owner.legacy_id ?? 'none'})`,
        );
        continue;
      }
    }

    const planned: PlannedRow = { legacyId: row.legacyId, hash: row.hash, values };
    const current = existingById.get(row.legacyId);
    const currentUpdated = current ? new Date(String(current.row.updated_at)).getTime() : NaN;
    const changedInNew = current && state && state.new_updated_at && currentUpdated !== state.new_updated_at.getTime();
    if (!current || !changedInNew) {
      plan.upserts.push(planned);
      continue;
    }
    const currentValues = asNewValues(mapping, current.row);
    const resolved = resolveConflict(values, currentValues, { rule: cfg.conflictResolution, mergeRules: cfg.mergeRules, tieBreaker: cfg.tieBreaker });
    const record: ConflictRecord = {
      legacyId: row.legacyId,
      newId: current.id,
      rule: cfg.conflictResolution,
      outcome: resolved.outcome,
      legacyVersion: values,
      newVersion: current.row,
      resolved: resolved.values,
    };
    plan.conflicts.push(record);
    if (resolved.outcome === 'new') plan.keptNew.push({ ...planned, values: { ...planned.values, updated_at: currentValues.updated_at } });
    else plan.upserts.push({ ...planned, values: resolved.values });
  }
  return plan;
}
