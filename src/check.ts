import type pg from 'pg';
import type { RawRow } from './capture/rawRow';
import type { TableConfig } from './config/tables';
import { canonicalFromMapped, canonicalFromNew, canonicalHash, comparedColumns, diffFields } from './convert/canonical';
import { batchEvidence, convertRow } from './convert/toNew';
import { idArray, inTransaction } from './db/postgres';
import type { EudcMap } from './encoding/eudc';
import { CHECK_SAMPLE, emptyChunkReport, type ChunkReport, type DifferingSample, type TableCounts } from './shared';
import { claimBatch, finishBatch } from './state/batches';
import { heldAmong, heldOf } from './state/heldBack';
import { ordersWaiting } from './state/outbox';
import { enqueueRows, queuedAmong } from './state/rowQueue';
import { markStale } from './state/rowState';

/**
 * The consistency check's comparison of one chunk: each legacy row (captured by the legacy
 * agent) mapped by the contract's rules and compared with its PostgreSQL row through a
 * canonical hash. Only counts and small samples of keys go back to the workflow. With
 * repair, the differences are queued for the normal pipeline (the repair queue).
 */

function push<T>(list: T[], item: T): void {
  if (list.length < CHECK_SAMPLE) list.push(item);
}

/** Exact counts on PostgreSQL's side; more than 1 % apart from legacy's is a warning. */
export async function countNew(pool: pg.Pool, t: TableConfig, legacy: number): Promise<TableCounts> {
  const res = await pool.query<{ live: number; deleted: number; unlinked: number }>(
    `SELECT count(*) FILTER (WHERE deleted_at IS NULL AND legacy_id IS NOT NULL)::int AS live,
            count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS deleted,
            count(*) FILTER (WHERE deleted_at IS NULL AND legacy_id IS NULL)::int AS unlinked
     FROM ${t.mapping.newTable}`,
  );
  const { live, deleted, unlinked } = res.rows[0];
  const difference = Math.abs(legacy - live);
  const tolerance = Math.floor(legacy * 0.01);
  return { legacy, newLive: live, newDeleted: deleted, newUnlinked: unlinked, difference, tolerance, level: difference > tolerance ? 'warning' : 'ok' };
}

/**
 * One chunk: the legacy rows with ids in (lower, upper] (upper null: the last chunk, open
 * above, so rows with a legacy_id beyond every legacy id are seen too) against the
 * PostgreSQL rows whose legacy_id falls in the same range.
 */
export async function compareChunk(
  pool: pg.Pool,
  t: TableConfig,
  eudc: EudcMap,
  input: { checkId: string; stepKey: string; rows: RawRow[]; lower: number | null; upper: number | null; repair: boolean },
): Promise<ChunkReport> {
  const mapping = t.mapping;
  const columns = comparedColumns(mapping);
  const { rows, lower, upper } = input;
  const [newRes, held, waitingForParent, parentMaps] = await Promise.all([
    pool.query<{ id: number; legacy_id: number; deleted_at: string | null; row: Record<string, unknown> }>(
      `SELECT id, legacy_id, deleted_at, to_jsonb(t) AS row FROM ${mapping.newTable} t
       WHERE legacy_id IS NOT NULL AND ($1::bigint IS NULL OR legacy_id > $1) AND ($2::bigint IS NULL OR legacy_id <= $2)`,
      [lower, upper],
    ),
    heldAmong(pool, mapping.legacyTable, 'legacy-to-new', lower, upper),
    queuedAmong(pool, mapping.legacyTable, 'parent', lower, upper),
    Promise.all(
      mapping.parents.map(async (p) => {
        const wanted = [...new Set(rows.map((r) => r.cols[p.column]).filter((v) => v !== null && v !== undefined).map(Number))];
        if (wanted.length === 0) return new Map<number, number>();
        const res = await pool.query<{ id: number; legacy_id: number }>(`SELECT id, legacy_id FROM ${p.newTable} WHERE legacy_id = ANY($1::int[])`, [idArray(wanted)]);
        return new Map(res.rows.map((r) => [r.legacy_id, r.id]));
      }),
    ),
  ]);
  // Orders the new system changed that wait to be written back (or are held back on their way) differ from legacy for now, by design.
  const orderIds = newRes.rows.map((r) => r.id);
  const writesBack = t.directions.includes('new-to-legacy');
  const queued = writesBack ? await ordersWaiting(pool, orderIds) : new Set<number>();
  const heldBack = writesBack ? await heldOf(pool, mapping.legacyTable, 'new-to-legacy', orderIds) : new Set<number>();
  const waiting = new Set([...queued, ...heldBack]);
  const noteOf = (orderId: number) => (queued.has(orderId) ? 'waiting in the orders outbox to be written back' : 'held back new → legacy (see held-back list)');

  const report = emptyChunkReport();
  report.legacyRows = rows.length;
  report.newRows = newRes.rows.length;
  const newByLegacy = new Map(newRes.rows.map((r) => [Number(r.legacy_id), r]));
  const legacyIds = new Set(rows.map((r) => r.id));
  /** Differences to repair: legacy id → new id (when there is a new row). */
  const toRepair = new Map<number, { newId: number | null; kind: string }>();

  const differing = (s: DifferingSample) => {
    if (s.newId !== null && waiting.has(s.newId)) s.note = noteOf(s.newId);
    report.differing++;
    for (const f of s.fields) report.fields[f] = (report.fields[f] ?? 0) + 1;
    push(report.samples.differing, s);
    toRepair.set(s.legacyId, { newId: s.newId, kind: 'differing' });
  };

  // The chunk's rows are the evidence of the table's encoding, as a batch's are for the sync.
  const evidence = batchEvidence(mapping, t.textColumns, rows);
  for (const raw of rows) {
    const current = newByLegacy.get(raw.id);
    const h = held.get(raw.id);
    if (h) {
      // Known and reported where held-back rows are: not a difference of the sync.
      report.heldBack++;
      push(report.samples.heldBack, { legacyId: raw.id, reasonKind: h.reasonKind, reason: h.reason });
      continue;
    }
    if (!current && waitingForParent.has(raw.id)) {
      // Waits for its customer or driver, as the contract says; reported where the queue is.
      report.waiting++;
      continue;
    }
    const conv = convertRow(raw, mapping, t.textColumns, eudc, evidence);
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

  const repairs: { rowId: number; reason: string }[] = [];
  if (input.repair) {
    // Orders waiting to be written back are left alone: overwriting them from legacy would lose the new system's change.
    for (const [legacyId, v] of toRepair) {
      if (v.newId !== null && waiting.has(v.newId)) {
        report.notRepaired++;
        push(report.notRepairedSample, { legacyId, newId: v.newId, reason: noteOf(v.newId) });
      } else {
        repairs.push({ rowId: legacyId, reason: `consistency check ${input.checkId}: ${v.kind}` });
      }
    }
  }
  // Recorded under the step's key, with its repairs: run again after this commit, the step answers from here (its claim is gone by then).
  return inTransaction(pool, async (client) => {
    const prior = await claimBatch<ChunkReport>(client, { key: input.stepKey, runId: input.checkId, table: mapping.legacyTable, direction: 'check' });
    if (prior) return prior;
    if (repairs.length > 0) {
      // The content hash must not skip them: their legacy content did not change.
      await markStale(client, mapping.legacyTable, repairs.map((q) => q.rowId));
      await enqueueRows(client, mapping.legacyTable, 'repair', repairs, input.checkId);
      report.repairQueued += repairs.length;
    }
    await finishBatch(client, input.stepKey, report);
    return report;
  });
}
