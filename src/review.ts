import type pg from 'pg';
import { asSync } from './apply/postgresSink';
import type { TableConfig } from './config/tables';
import type { NewValues } from './convert/tables';
import { legacyRefusal } from './convert/toLegacy';
import { inTransaction } from './db/postgres';
import type { EudcMap } from './encoding/eudc';
import { mergeRow } from './reconcile/merge';
import { imageOf, mergeColumns } from './reconcile/toNew';
import type { ConflictResolution } from './shared';
import { lockOpenConflict, getConflict, markResolved } from './state/conflicts';
import { journalWritten } from './state/journal';
import { closeReview, forgetRowStates, readRowStates } from './state/rowState';

/**
 * A manual conflict's resolution, applied to PostgreSQL in one transaction under the
 * resolution's own run: the new row takes the side chosen (legacy's latest version, the new
 * row as it is now, or the merge with the operator's values for the columns in conflict),
 * journaled, and the row leaves review. Legacy receives the result through the write-back,
 * under the same run, so a rollback of the run undoes both sides and opens the review again.
 */

export class ResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidResolution';
  }
}

export interface Resolved {
  /** The new row's id, and whether legacy must receive the result (the write-back of that order). */
  newId: number | null;
  writeBack: boolean;
  values: NewValues | null;
}

export async function applyResolution(pool: pg.Pool, t: TableConfig, eudc: EudcMap, conflictId: number, resolution: ConflictResolution, runId: string): Promise<Resolved> {
  const mapping = t.mapping;
  const columns = mergeColumns(mapping);
  for (const c of Object.keys(resolution.set ?? {})) {
    if (!(c in columns)) throw new ResolutionError(`--set ${c}: not a column of ${mapping.newTable} (${Object.keys(columns).join(', ')})`);
  }
  return inTransaction(pool, async (client) => {
    const conflict = await lockOpenConflict(client, conflictId);
    if (!conflict) {
      const c = await getConflict(client, conflictId);
      if (!c) throw new ResolutionError(`no conflict ${conflictId}`);
      const by = c.resolution as { runId?: string } | null;
      // This run's own earlier attempt committed: the same answer again.
      if (by?.runId === runId) return { newId: c.newId, writeBack: false, values: c.resolved as NewValues | null };
      throw new ResolutionError(`conflict ${conflictId} is not open (it is ${c.status})`);
    }
    if (conflict.legacyId === null || conflict.newId === null) throw new ResolutionError(`conflict ${conflictId} names no row to resolve`);
    await asSync(client);
    const cur = await client.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) AS row FROM ${mapping.newTable} t WHERE id = $1 FOR UPDATE`, [conflict.newId]);
    if (!cur.rows[0]) throw new ResolutionError(`${mapping.newTable} row ${conflict.newId} is gone`);
    const now = imageOf(mapping, cur.rows[0].row);
    const legacy = conflict.legacy ? imageOf(mapping, conflict.legacy) : null;
    const state = (await readRowStates(client, mapping.legacyTable, [conflict.legacyId])).get(conflict.legacyId);
    const base = state?.base ? imageOf(mapping, state.base) : now;
    const legacyBase = state?.legacyBase ? imageOf(mapping, state.legacyBase) : base;

    let result: NewValues | null;
    if (resolution.take === 'legacy') result = legacy;
    else if (resolution.take === 'new') result = now;
    else {
      if (!legacy) throw new ResolutionError('legacy deleted the row: take legacy (delete) or new (keep it), there is nothing to merge');
      const merged = mergeRow(columns, { base, legacyBase, legacy, new: now }, t.rules);
      const missing = merged.manual.filter((c) => !(c in (resolution.set ?? {})));
      if (missing.length > 0) throw new ResolutionError(`merged: give a value for ${missing.map((c) => `--set ${c}=...`).join(' ')} (the columns both sides changed)`);
      result = { ...merged.values };
    }
    if (result) result = { ...result, ...(resolution.set ?? {}), deleted_at: null };
    const writeBack = result !== null && t.directions.includes('new-to-legacy');
    // Refused before anything is written: legacy must be able to hold the result exactly.
    const refusal = writeBack && legacyRefusal(result!, eudc);
    if (refusal) throw new ResolutionError(`the legacy file cannot hold this resolution: ${refusal}; choose another value with --set`);

    const t0 = mapping.newTable;
    if (result === null) {
      // Legacy deleted the row and its deletion is taken.
      await client.query(
        `WITH b AS (SELECT t.* FROM ${t0} t WHERE t.id = $1), w AS (UPDATE ${t0} t SET deleted_at = now() FROM b WHERE t.id = b.id RETURNING t.*)
         ${journalWritten({ table: t0, operation: 'delete', from: 'w JOIN b ON b.id = w.id', before: 'to_jsonb(b)', after: 'to_jsonb(w)' })}`,
        [conflict.newId, runId, `${runId}#0`],
      );
      await forgetRowStates(client, mapping.legacyTable, [conflict.legacyId]);
    } else {
      const cols = [...Object.keys(mapping.newColumns), ...mapping.parents.map((p) => p.newColumn)];
      const types: Record<string, string> = { ...mapping.newColumns };
      await client.query(
        `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${cols.map((c) => `${c} ${types[c] ?? 'integer'}`).join(', ')})),
         b AS (SELECT t.* FROM ${t0} t WHERE t.id = $4),
         w AS (UPDATE ${t0} t SET ${cols.map((c) => `${c} = i.${c}`).join(', ')}, deleted_at = NULL FROM input i WHERE t.id = $4 RETURNING t.*)
         ${journalWritten({ table: t0, operation: 'update', from: 'w JOIN b ON b.id = w.id', before: 'to_jsonb(b)', after: 'to_jsonb(w)' })}`,
        [JSON.stringify([result]), runId, `${runId}#0`, conflict.newId],
      );
    }
    // The new row holds the resolution; legacy keeps its last-seen version as its base until it receives it.
    if (result !== null) await closeReview(client, mapping.legacyTable, conflict.legacyId, legacy);
    await markResolved(client, conflictId, { ...resolution, runId }, result);
    return { newId: conflict.newId, writeBack, values: result };
  });
}
