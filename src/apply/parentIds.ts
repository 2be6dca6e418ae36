import type pg from 'pg';
import type { TableConfig } from '../config/tables';

/**
 * A load's parent ids: per parent table, every synced row's legacy id → new id, read once
 * before the load's first page. Held as two sorted Int32Arrays in shared memory, so that a
 * load's page threads read the very same bytes (8 per parent row) without a copy. A Map of
 * them cost ~40 MB of the load's thread to build for 200k customers (the peak of a 10M load,
 * sampled) and a copy of several MB in each page thread.
 */
export class ParentIds {
  private constructor(
    /** Ascending. */
    readonly legacyIds: Int32Array,
    readonly ids: Int32Array,
  ) {}

  /** From pairs of big-endian 4-byte integers (legacy id, new id), in ascending legacy id: what readParentIds reads. */
  static fromPairs(pairs: Uint8Array): ParentIds {
    if (pairs.length % 8 !== 0) throw new Error(`parent ids: ${pairs.length} bytes is not a whole number of (legacy id, id) pairs`);
    const n = pairs.length / 8;
    const legacyIds = new Int32Array(new SharedArrayBuffer(n * 4));
    const ids = new Int32Array(new SharedArrayBuffer(n * 4));
    const view = new DataView(pairs.buffer, pairs.byteOffset, pairs.byteLength);
    for (let i = 0; i < n; i++) {
      legacyIds[i] = view.getInt32(i * 8);
      ids[i] = view.getInt32(i * 8 + 4);
      if (i > 0 && legacyIds[i] <= legacyIds[i - 1]) throw new Error(`parent ids: legacy id ${legacyIds[i]} after ${legacyIds[i - 1]} (not ascending)`);
    }
    return new ParentIds(legacyIds, ids);
  }

  /** The ids as they arrive on another thread (a message keeps the arrays, shared, but not the class). */
  static received(raw: { legacyIds: Int32Array; ids: Int32Array }): ParentIds {
    return new ParentIds(raw.legacyIds, raw.ids);
  }

  /** The new id of a legacy id, if it has one. */
  get(legacyId: number): number | undefined {
    const a = this.legacyIds;
    // Legacy ids are mostly dense (SQLite's rowids): where the i-th is first + i, one look finds it.
    const guess = legacyId - a[0];
    if (guess >= 0 && guess < a.length && a[guess] === legacyId) return this.ids[guess];
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid];
      if (v === legacyId) return this.ids[mid];
      if (v < legacyId) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/**
 * Per parent's new column, the parent ids of every synced parent row: one value per parent
 * table, all its pairs in one bytea, instead of a row object per parent. With the per-row
 * checks skipped, the parents are locked FOR KEY SHARE until the commit (`lock`), as those
 * checks would lock them: none of them can be deleted, or its key changed, before the rows
 * referring to it are in.
 */
export async function readParentIds(client: pg.PoolClient, cfg: TableConfig, lock: boolean): Promise<Map<string, ParentIds>> {
  const out = new Map<string, ParentIds>();
  for (const p of cfg.mapping.parents) {
    const res = await client.query<{ pairs: Buffer | null }>(
      `SELECT string_agg(int4send(legacy_id) || int4send(id), ''::bytea ORDER BY legacy_id) AS pairs
       FROM (SELECT legacy_id, id FROM ${p.newTable} WHERE legacy_id IS NOT NULL${lock ? ' FOR KEY SHARE' : ''}) parent`,
    );
    out.set(p.newColumn, ParentIds.fromPairs(res.rows[0].pairs ?? Buffer.alloc(0)));
  }
  return out;
}
