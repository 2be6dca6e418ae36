import { ApplicationFailure, Context } from '@temporalio/activity';
import { tableConfig, tableLevels, type TableConfig } from '../src/config/tables';
import { LegacyFileError, openLegacy } from '../src/db/legacy';
import { inTransaction } from '../src/db/postgres';
import { convertRow, type RawRow } from '../src/mapping/convertRow';
import { canonicalFromMapped, canonicalFromNew, canonicalHash, comparedColumns, diffFields } from '../src/sync/compare';
import { readByIds, readIdChunk } from '../src/sync/legacyReader';
import type { ActivityDeps } from './deps';

/**
 * The consistency check, one key-ordered chunk of legacy ids per activity call: each legacy
 * row mapped by the contract's rules and compared with its PostgreSQL row through a
 * canonical hash; only counts and small samples of keys go back to the workflow, so memory
 * and workflow history stay flat however large the tables are.
 */

/** At most this many keys per kind in a report. */
export const SAMPLE_SIZE = 20;
export const DEFAULT_CHUNK_SIZE = 5000;
const DIRECTION = 'legacy-to-new';

export interface MissingInNewSample {
  legacyId: number;
  /** Why, when known (e.g. its parent has no row yet). */
  note?: string;
}
export interface MissingInLegacySample {
  legacyId: number;
  newId: number;
}
export interface DifferingSample {
  legacyId: number;
  newId: number | null;
  fields: string[];
  /** A legacy row the contract's rules refuse, and that is not recorded as held back. */
  reason?: string;
  note?: string;
}
export interface HeldBackSample {
  legacyId: number;
  reasonKind: string;
  reason: string;
}
export interface NotRepairedSample {
  legacyId: number;
  newId: number | null;
  reason: string;
}

export interface ChunkReport {
  /** Legacy rows read in this chunk. */
  legacyRows: number;
  /** PostgreSQL rows (with a legacy_id) in the chunk's key range. */
  newRows: number;
  matching: number;
  missingInNew: number;
  missingInLegacy: number;
  differing: number;
  heldBack: number;
  /** PostgreSQL rows marked deleted whose legacy row is gone: as it should be. */
  deletedInBoth: number;
  /** Per field, how many differing rows differ in it. */
  fields: Record<string, number>;
  samples: {
    missingInNew: MissingInNewSample[];
    missingInLegacy: MissingInLegacySample[];
    differing: DifferingSample[];
    heldBack: HeldBackSample[];
  };
  /** Repair: legacy ids queued for the normal pipeline. */
  repairQueued: number;
  /** Repair: differences left alone, with why (e.g. an order waiting to be written back). */
  notRepaired: number;
  notRepairedSample: NotRepairedSample[];
}

export interface ChunkResult extends ChunkReport {
  /** The last legacy id of the chunk: the next chunk starts after it. */
  nextAfterId: number | null;
  done: boolean;
}

export interface TableCounts {
  legacy: number;
  /** Rows with a legacy_id and no deleted_at. */
  newLive: number;
  /** Rows with deleted_at set. */
  newDeleted: number;
  /** Rows created in the new system and not written back yet (legacy_id NULL, not deleted). */
  newUnlinked: number;
  /** |legacy - newLive| */
  difference: number;
  /** The design's 1 % tolerance, in rows. */
  tolerance: number;
  level: 'ok' | 'warning';
}

export interface CheckPlan {
  tables: string[];
  newTables: Record<string, string>;
  chunkSize: number;
  startedAt: string;
}

export function emptyChunkReport(): ChunkReport {
  return {
    legacyRows: 0,
    newRows: 0,
    matching: 0,
    missingInNew: 0,
    missingInLegacy: 0,
    differing: 0,
    heldBack: 0,
    deletedInBoth: 0,
    fields: {},
    samples: { missingInNew: [], missingInLegacy: [], differing: [], heldBack: [] },
    repairQueued: 0,
    notRepaired: 0,
    notRepairedSample: [],
  };
}

function push<T>(list: T[], item: T): void {
  if (list.length < SAMPLE_SIZE) list.push(item);
}

function nonRetryable(err: unknown): never {
  if (err instanceof LegacyFileError) throw ApplicationFailure.nonRetryable(err.message, 'LegacyFileError');
  throw err;
}

interface NewRow {
  id: number;
  legacy_id: number;
  deleted_at: string | null;
  row: Record<string, unknown>;
}

export function createConsistencyActivities(deps: ActivityDeps) {
  const cfg = (table: string): TableConfig => {
    try {
      return tableConfig(deps.config, table);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'ConfigError');
    }
  };

  return {
    /** Records the check as running (and, with repair, as a run the repairs hang under); tables parents first. */
    async beginConsistencyCheck(input: { checkId: string; tables?: string[]; repair: boolean; chunkSize?: number }): Promise<CheckPlan> {
      for (const t of input.tables ?? []) cfg(t);
      const tables = tableLevels(deps.config, input.tables).flat();
      const res = await deps.pool.query<{ started_at: Date }>(
        `INSERT INTO sync_consistency_reports (id, status, repair) VALUES ($1, 'running', $2)
         ON CONFLICT (id) DO UPDATE SET status = 'running' RETURNING started_at`,
        [input.checkId, input.repair],
      );
      if (input.repair) {
        // Repairs are sync runs like any other: children of this one, undoable with RollbackWorkflow({ runId }).
        await deps.pool.query(
          `INSERT INTO sync_runs (id, kind, workflow_id, status, details) VALUES ($1, 'consistency-repair', $1, 'running', $2)
           ON CONFLICT (id) DO NOTHING`,
          [input.checkId, JSON.stringify({ tables })],
        );
      }
      const chunkSize = Math.max(1, Math.min(input.chunkSize ?? DEFAULT_CHUNK_SIZE, 50_000));
      return { tables, newTables: Object.fromEntries(tables.map((t) => [t, cfg(t).newTable])), chunkSize, startedAt: res.rows[0].started_at.toISOString() };
    },

    /** Exact row counts of both sides; more than 1 % apart is a warning (the rows themselves are compared chunk by chunk). */
    async countConsistency(input: { table: string }): Promise<TableCounts> {
      const t = cfg(input.table);
      let legacy: number;
      try {
        const db = openLegacy(deps.env.LEGACY_DB_PATH);
        try {
          legacy = (db.prepare(`SELECT count(*) AS n FROM ${t.mapping.legacyTable}`).get() as { n: number }).n;
        } finally {
          db.close();
        }
      } catch (err) {
        nonRetryable(err);
      }
      const res = await deps.pool.query<{ live: number; deleted: number; unlinked: number }>(
        `SELECT count(*) FILTER (WHERE deleted_at IS NULL AND legacy_id IS NOT NULL)::int AS live,
                count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS deleted,
                count(*) FILTER (WHERE deleted_at IS NULL AND legacy_id IS NULL)::int AS unlinked
         FROM ${t.mapping.newTable}`,
      );
      const { live, deleted, unlinked } = res.rows[0];
      const difference = Math.abs(legacy - live);
      const tolerance = Math.floor(legacy * 0.01);
      return { legacy, newLive: live, newDeleted: deleted, newUnlinked: unlinked, difference, tolerance, level: difference > tolerance ? 'warning' : 'ok' };
    },

    /**
     * One chunk: the next `chunkSize` legacy ids after `afterId`, and the PostgreSQL rows whose
     * legacy_id falls in the same range (the last chunk's range is open above, so rows with a
     * legacy_id beyond every legacy id are seen too). With `repair`, the differences found are
     * queued for the normal pipeline: their content hashes are forgotten and they are recorded
     * as held back with reason 'repair', which a `retry` table sync re-reads by id.
     */
    async checkChunk(input: { checkId: string; table: string; afterId: number | null; chunkSize: number; repair: boolean }): Promise<ChunkResult> {
      const t = cfg(input.table);
      const mapping = t.mapping;
      const columns = comparedColumns(mapping);

      let ids: number[] = [];
      let rows: RawRow[] = [];
      try {
        const db = openLegacy(deps.env.LEGACY_DB_PATH);
        try {
          // One read transaction: the ids and their rows are one snapshot of the file.
          db.transaction(() => {
            ids = readIdChunk(db, mapping.legacyTable, input.afterId ?? Number.MIN_SAFE_INTEGER, input.chunkSize);
            rows = readByIds(db, mapping, ids);
          })();
        } finally {
          db.close();
        }
      } catch (err) {
        nonRetryable(err);
      }
      Context.current().heartbeat();
      const done = ids.length < input.chunkSize;
      const lower = input.afterId;
      const upper = done ? null : ids[ids.length - 1];

      const [newRes, heldRes, parentMaps] = await Promise.all([
        deps.pool.query<NewRow>(
          `SELECT id, legacy_id, deleted_at, to_jsonb(t) AS row FROM ${mapping.newTable} t
           WHERE legacy_id IS NOT NULL AND ($1::bigint IS NULL OR legacy_id > $1) AND ($2::bigint IS NULL OR legacy_id <= $2)`,
          [lower, upper],
        ),
        deps.pool.query<{ row_id: string; reason_kind: string; reason: string }>(
          `SELECT row_id, reason_kind, reason FROM sync_held_back
           WHERE table_name = $1 AND direction = $2 AND resolved_at IS NULL AND reason_kind <> 'repair'
             AND ($3::bigint IS NULL OR row_id > $3) AND ($4::bigint IS NULL OR row_id <= $4)`,
          [mapping.legacyTable, DIRECTION, lower, upper],
        ),
        Promise.all(
          mapping.parents.map(async (p) => {
            const wanted = [...new Set(rows.map((r) => r.cols[p.column]).filter((v) => v !== null && v !== undefined).map(Number))];
            if (wanted.length === 0) return new Map<number, number>();
            const res = await deps.pool.query<{ id: number; legacy_id: number }>(`SELECT id, legacy_id FROM ${p.newTable} WHERE legacy_id = ANY($1::int[])`, [wanted]);
            return new Map(res.rows.map((r) => [r.legacy_id, r.id]));
          }),
        ),
      ]);

      // Orders the new system changed that wait to be written back differ from legacy for now, by design.
      const pendingWriteBack = t.directions.includes('new-to-legacy') ? await pendingOrders(t, newRes.rows.map((r) => r.id)) : new Map<number, string>();

      const report = emptyChunkReport();
      report.legacyRows = rows.length;
      report.newRows = newRes.rows.length;
      const newByLegacy = new Map(newRes.rows.map((r) => [Number(r.legacy_id), r]));
      const held = new Map(heldRes.rows.map((h) => [Number(h.row_id), h]));
      const legacyIds = new Set(rows.map((r) => r.id));
      /** Differences to repair: legacy id → new id (when there is a new row). */
      const toRepair = new Map<number, { newId: number | null; kind: string }>();

      const differing = (s: DifferingSample) => {
        const pending = s.newId !== null ? pendingWriteBack.get(s.newId) : undefined;
        if (pending) s.note = pending;
        report.differing++;
        for (const f of s.fields) report.fields[f] = (report.fields[f] ?? 0) + 1;
        push(report.samples.differing, s);
        toRepair.set(s.legacyId, { newId: s.newId, kind: 'differing' });
      };

      for (const raw of rows) {
        const current = newByLegacy.get(raw.id);
        const h = held.get(raw.id);
        if (h) {
          // Known and reported where held-back rows are: not a difference of the sync.
          report.heldBack++;
          push(report.samples.heldBack, { legacyId: raw.id, reasonKind: h.reason_kind, reason: h.reason });
          continue;
        }
        const conv = convertRow(raw, mapping, t.textColumns, deps.eudc);
        if (!conv.ok) {
          differing({ legacyId: raw.id, newId: current?.id ?? null, fields: ['(row)'], reason: `${conv.held.reasonKind}: ${conv.held.reason}`, note: 'not recorded as held back' });
          continue;
        }
        const parentIds: Record<string, number | null> = {};
        let missingParent: string | undefined;
        mapping.parents.forEach((p, i) => {
          const legacyParent = conv.row.parents[p.column];
          const newId = legacyParent === null ? null : (parentMaps[i].get(legacyParent) ?? null);
          if (legacyParent !== null && newId === null) missingParent ??= `${p.column} ${legacyParent} has no ${p.newTable} row`;
          parentIds[p.newColumn] = newId;
        });
        if (!current) {
          report.missingInNew++;
          push(report.samples.missingInNew, missingParent ? { legacyId: raw.id, note: missingParent } : { legacyId: raw.id });
          toRepair.set(raw.id, { newId: null, kind: 'missing in new' });
          continue;
        }
        const expected = canonicalFromMapped(mapping, conv.row.values, parentIds);
        const actual = canonicalFromNew(mapping, current.row);
        const deleted = current.deleted_at !== null;
        if (!deleted && canonicalHash(expected, columns) === canonicalHash(actual, columns)) {
          report.matching++;
          continue;
        }
        const fields = diffFields(expected, actual, columns);
        if (deleted) fields.push('deleted_at');
        differing({ legacyId: raw.id, newId: current.id, fields, ...(missingParent ? { note: missingParent } : {}) });
      }

      for (const r of newRes.rows) {
        const legacyId = Number(r.legacy_id);
        if (legacyIds.has(legacyId)) continue;
        if (r.deleted_at !== null) {
          report.deletedInBoth++;
          continue;
        }
        report.missingInLegacy++;
        push(report.samples.missingInLegacy, { legacyId, newId: r.id });
        toRepair.set(legacyId, { newId: r.id, kind: 'missing in legacy' });
      }

      if (input.repair && toRepair.size > 0) await queueRepairs(input.checkId, t, toRepair, pendingWriteBack, report);
      return { ...report, nextAfterId: ids.length > 0 ? ids[ids.length - 1] : input.afterId, done };
    },

    async finishConsistencyCheck(input: { checkId: string; status: 'completed' | 'failed'; differences: number; result: unknown; repair: boolean; error?: string }): Promise<{ finishedAt: string }> {
      const res = await deps.pool.query<{ finished_at: Date }>(
        `UPDATE sync_consistency_reports SET status = $2, differences = $3, result = $4, finished_at = now() WHERE id = $1 RETURNING finished_at`,
        [input.checkId, input.status, input.differences, JSON.stringify(input.error ? { error: input.error } : input.result)],
      );
      if (input.repair) {
        await deps.pool.query(`UPDATE sync_runs SET status = $2, finished_at = now(), error = $3 WHERE id = $1`, [input.checkId, input.status, input.error ?? null]);
      }
      return { finishedAt: (res.rows[0]?.finished_at ?? new Date()).toISOString() };
    },
  };

  /** Orders (of these ids) waiting to be written back: an unprocessed outbox entry, or held back new → legacy. */
  async function pendingOrders(t: TableConfig, orderIds: number[]): Promise<Map<number, string>> {
    if (orderIds.length === 0) return new Map();
    const pending = await deps.pool.query<{ order_id: number; why: string }>(
      `SELECT DISTINCT order_id, 'waiting in the orders outbox to be written back' AS why FROM sync_order_outbox
         WHERE processed_at IS NULL AND order_id = ANY($1::int[])
       UNION ALL
       SELECT DISTINCT row_id::int, 'held back new → legacy: ' || reason FROM sync_held_back
         WHERE table_name = $2 AND direction = 'new-to-legacy' AND resolved_at IS NULL AND row_id = ANY($1::bigint[])`,
      [orderIds, t.mapping.legacyTable],
    );
    return new Map(pending.rows.map((p) => [p.order_id, p.why]));
  }

  /**
   * Queues differences for the normal pipeline. Orders the new system changed and that wait to
   * be written back are left alone: overwriting them from legacy would lose the new system's change.
   */
  async function queueRepairs(
    checkId: string,
    t: TableConfig,
    toRepair: Map<number, { newId: number | null; kind: string }>,
    pendingWriteBack: Map<number, string>,
    report: ChunkReport,
  ): Promise<void> {
    const skip = new Map<number, string>();
    for (const [legacyId, v] of toRepair) if (v.newId !== null && pendingWriteBack.has(v.newId)) skip.set(legacyId, pendingWriteBack.get(v.newId)!);
    const queued: { row_id: number; reason: string }[] = [];
    for (const [legacyId, v] of toRepair) {
      const why = skip.get(legacyId);
      if (why) {
        report.notRepaired++;
        push(report.notRepairedSample, { legacyId, newId: v.newId, reason: why });
      } else {
        queued.push({ row_id: legacyId, reason: `consistency check ${checkId}: ${v.kind}` });
      }
    }
    if (queued.length === 0) return;
    await inTransaction(deps.pool, async (client) => {
      // The hash-skip must not skip them: their legacy content did not change.
      await client.query(`DELETE FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`, [t.mapping.legacyTable, queued.map((q) => q.row_id)]);
      await client.query(
        `INSERT INTO sync_held_back (table_name, direction, row_id, reason_kind, reason, raw, run_id)
         SELECT $1, $2, x.row_id, 'repair', x.reason, jsonb_build_object('id', x.row_id), $3
         FROM jsonb_to_recordset($4::jsonb) AS x(row_id bigint, reason text)
         ON CONFLICT (table_name, direction, row_id) DO UPDATE SET
           reason_kind = 'repair', reason = EXCLUDED.reason, run_id = EXCLUDED.run_id, last_seen_at = now(), resolved_at = NULL`,
        [t.mapping.legacyTable, DIRECTION, checkId, JSON.stringify(queued)],
      );
    });
    report.repairQueued += queued.length;
  }
}
