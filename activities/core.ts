import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { recordWriteBack as recordWriteBackInPostgres, applyToNew } from '../src/apply/postgresSink';
import type { LegacyRestore } from '../src/apply/legacyRestore';
import type { LegacyWriteResult } from '../src/apply/legacySink';
import { loadEmptyTable } from '../src/apply/bulkLoad';
import { pageRows, type RawPage } from '../src/capture/legacyReader';
import { readOrders } from '../src/capture/outboxReader';
import { ClaimMissingError } from '../src/claims';
import { contentHash, updatedAtOf } from '../src/capture/rawRow';
import { compareChunk, countNew } from '../src/check';
import { tableConfig, tableLevels } from '../src/config/tables';
import { convertBatch } from '../src/convert/toNew';
import { beginDraft, draftRun, type RunDraft, type TableEdges } from '../src/plan';
import { planToLegacy, type WriteBackPlan } from '../src/reconcile/toLegacy';
import { applyResolution, type Resolved } from '../src/review';
import { beginRollback, recordLegacyRestores, reopenedConflicts, rollbackPage } from '../src/rollback';
import {
  ids,
  type BatchResult,
  type ChunkReport,
  type ConflictResolution,
  type Cursor,
  type FetchResult,
  type ReviewStart,
  type RollbackPageResult,
  type RollbackRequest,
  type RollbackPosition,
  type RollbackSelection,
  type RowQueue,
  type RunSummary,
  type TableCounts,
  type TableSyncPlan,
  type TableSyncStart,
} from '../src/shared';
import { appliedBefore } from '../src/state/batches';
import { beginReport, finishReport } from '../src/state/consistencyReports';
import { heldIds } from '../src/state/heldBack';
import { outboxHasWork, pendingOutbox } from '../src/state/outbox';
import { queuedIds } from '../src/state/rowQueue';
import { readRowStates, readSeen } from '../src/state/rowState';
import { beginRun, finishRun, recordEnded, runningRuns, runTree, setRunCounts } from '../src/state/runs';
import { advanceWatermark, finishCatchup } from '../src/state/watermarks';
import { connectClient } from '../src/temporal/connection';
import { pauseSchedule, resumeSchedule } from '../src/temporal/schedule';
import type { CoreDeps } from './deps';
import { rawKey, restoredKey, restoresKey, writesKey, writtenKey, type Probe, type RawBatch } from './legacy';

/**
 * The activities of the core workers (task queue luckygas-sync): thin adapters from Temporal
 * to the stages. They reach PostgreSQL, Redis and Temporal, never the legacy file: what the
 * legacy agent read waits in Redis claims, what it is to write goes there.
 */

export interface CycleDraft {
  levels: string[][];
  /** Each table's parent tables in this cycle: a table whose parent failed is not started. */
  parents: Record<string, string[]>;
  drafts: RunDraft[];
  probes: Probe[];
}

/** A table and direction of a cycle: the plan of a run to start, a run that ended without starting, or a write-back to decide after legacy → new. */
export type CycleRun = { plan: TableSyncPlan } | { summary: RunSummary } | { after: RunDraft };

export const planKey = (batchKey: string) => `${batchKey}:plan`;

/**
 * An operator step's key in sync_batches: its batch key within this workflow execution. A
 * rollback's or a check's id is its workflow id, which an operator may start again (the
 * temporal CLI's --workflow-id): the run id tells the two apart.
 */
const stepKey = (batchKey: string) => {
  const info = Context.current().info;
  return `${batchKey}@${info.workflowExecution?.runId ?? info.activityId}`;
};

export function createCoreActivities(deps: CoreDeps) {
  const cfg = (table: string) => tableConfig(deps.config, table);
  const log = (table: string, batchKey?: string) => deps.log.child({ table, batch: batchKey, runId: batchKey?.split(/[@#]/)[0] });

  /**
   * Whether a captured first page holds nothing the sync has not seen: every row's content and
   * updated_at as last seen. A page gone from Redis is not known to be seen: the run reads it again.
   */
  async function allSeen(table: string, batchKey: string): Promise<boolean> {
    const batch = await deps.claims.get<RawBatch>(rawKey(batchKey)).catch((err: unknown) => {
      if (err instanceof ClaimMissingError) return null;
      throw err;
    });
    if (!batch || batch.deleted.length > 0) return false;
    const rows = pageRows(cfg(table).mapping, batch.page);
    const seen = await readSeen(deps.pool, table, rows.map((r) => r.id));
    return rows.every((r) => {
      const s = seen.get(r.id);
      return s !== undefined && s.hash === contentHash(r) && s.ts === updatedAtOf(r);
    });
  }

  async function beginWriteBack(draft: RunDraft): Promise<CycleRun> {
    if (await outboxHasWork(deps.pool)) return { plan: await beginDraft(deps.pool, cfg(draft.start.table), draft, null, null) };
    return { summary: await recordEnded(deps.pool, { id: draft.start.workflowId, kind: 'table', table: draft.start.table, direction: draft.start.direction, parentId: draft.start.parentId, status: 'completed', details: { idle: 'nothing new at the source' } }) };
  }

  return {
    // ─────────────────────────────── the cycle ───────────────────────────────

    /** The cycle's tables (parents first, in levels that may run side by side), each direction's reading, and what to ask the legacy agent. */
    async planCycle(input: { tables?: string[]; cycleId: string }): Promise<CycleDraft> {
      for (const t of input.tables ?? []) cfg(t);
      const levels = tableLevels(deps.config, input.tables);
      const runs = levels.flat().flatMap((table) => cfg(table).directions.map((direction) => ({ table, direction, workflowId: ids.tableSync(table, direction, input.cycleId) })));
      // Side by side: an idle cycle is mostly these reads.
      const drafts = await Promise.all(runs.map((r) => draftRun(deps.pool, cfg(r.table), { ...r, kind: 'table', parentId: input.cycleId })));
      const probes: Probe[] = drafts
        .filter((d) => d.start.direction === 'legacy-to-new')
        .map((d) => ({ table: d.start.table, batchKey: d.load ? null : `${d.start.workflowId}#0`, cursor: d.cursor, batchSize: d.batchSize, edges: d.load || d.catchup }));
      const parents = Object.fromEntries(levels.flat().map((t) => [t, cfg(t).mapping.parents.map((p) => p.legacyTable).filter((p) => levels.flat().includes(p))]));
      return { levels, parents, drafts, probes };
    },

    /**
     * Each table and direction begun (its run recorded, its plan made, its first page already
     * captured) or, with nothing new at its source, recorded as a completed run that re-read
     * what it re-read and changed nothing. A write-back whose table also runs legacy → new is
     * decided after it: the merges there may queue orders for it.
     */
    async beginCycleRuns(input: { draft: CycleDraft; probed: { table: string; first: FetchResult | null; edges: TableEdges | null }[] }): Promise<Record<string, CycleRun>> {
      const probed = new Map(input.probed.map((p) => [p.table, p]));
      const begin = async (draft: RunDraft, l2n: CycleRun | undefined): Promise<CycleRun> => {
        const { table, direction } = draft.start;
        if (direction === 'new-to-legacy') return l2n && 'plan' in l2n ? { after: draft } : beginWriteBack(draft);
        const p = probed.get(table);
        const first = p?.first ?? null;
        const idle = !draft.load && !draft.catchup && draft.queues.length === 0 && first !== null && (first.count === 0 || (first.done && (await allSeen(table, `${draft.start.workflowId}#0`))));
        if (!idle) return { plan: await beginDraft(deps.pool, cfg(table), draft, p?.edges ?? null, first) };
        await deps.claims.drop(rawKey(`${draft.start.workflowId}#0`));
        return {
          summary: await recordEnded(deps.pool, { id: draft.start.workflowId, kind: 'table', table, direction, parentId: draft.start.parentId, status: 'completed', read: first.count, details: { idle: 'nothing new at the source' } }),
        };
      };
      const keyOf = (d: RunDraft) => `${d.start.table} ${d.start.direction}`;
      const runs: Record<string, CycleRun> = {};
      // Side by side: every legacy → new first, then the write-backs that depend on them.
      for (const direction of ['legacy-to-new', 'new-to-legacy']) {
        const drafts = input.draft.drafts.filter((d) => d.start.direction === direction);
        const begun = await Promise.all(drafts.map((d) => begin(d, runs[`${d.start.table} legacy-to-new`])));
        drafts.forEach((d, i) => (runs[keyOf(d)] = begun[i]));
      }
      return runs;
    },

    /** The write-back of a table whose legacy → new ran in this cycle: begun when the outbox has work. */
    beginWriteBack,

    /** Runs that will not run, recorded with why (a parent table failed, the cycle was cancelled). */
    async recordSkipped(input: { runs: (TableSyncStart & { reason: string })[] }): Promise<RunSummary[]> {
      const out: RunSummary[] = [];
      for (const r of input.runs) {
        out.push(await recordEnded(deps.pool, { id: r.workflowId, kind: r.kind, table: r.table, direction: r.direction, parentId: r.parentId, status: 'skipped', reason: r.reason }));
      }
      return out;
    },

    // ─────────────────────────────── table runs ───────────────────────────────

    /** A run outside a cycle (backfill, retry, repair): recorded, its reading planned. */
    async beginTableSync(input: { start: TableSyncStart; edges: TableEdges | null }): Promise<TableSyncPlan> {
      const t = cfg(input.start.table);
      return beginDraft(deps.pool, t, await draftRun(deps.pool, t, input.start), input.edges, null);
    },

    /** convert → reconcile → apply of a captured batch, in one PostgreSQL transaction. */
    async applyBatch(input: { table: string; runId: string; batchKey: string; mode: string; cursor: Cursor | null; reached?: Cursor }): Promise<BatchResult> {
      // Applied before (this step run again after its commit, which dropped the claim): the first result, without reading the batch again.
      const prior = await appliedBefore(deps.pool, input.batchKey);
      if (prior) return prior;
      const t = cfg(input.table);
      const raw = await deps.claims.get<RawBatch>(rawKey(input.batchKey));
      const batch = convertBatch(t.mapping, t.textColumns, deps.eudc, { rows: pageRows(t.mapping, raw.page), deleted: raw.deleted });
      if (batch.held.length) log(input.table, input.batchKey).warn({ held: batch.held.map((h) => ({ id: h.legacyId, reason: h.reason })) }, 'rows held back');
      // A local activity has no heartbeat: the workflow task that runs it is kept alive instead.
      if (!Context.current().info.isLocal) Context.current().heartbeat();
      const result = await applyToNew(deps.pool, t, batch, { runId: input.runId, batchKey: input.batchKey, mode: input.mode, cursor: input.cursor, reached: input.reached });
      await deps.claims.drop(rawKey(input.batchKey)).catch(() => {});
      log(input.table, input.batchKey).info({ ...result, cursor: undefined, reviews: undefined }, 'batch applied');
      return result;
    },

    /**
     * A table's first sync into its empty new table (see src/apply/bulkLoad.ts), in one
     * transaction, from the pages the legacy agent streams (captureTable); null when the new
     * table is not empty after all: the run loads it page by page. One attempt: a transaction
     * cannot be resumed, so the workflow starts the whole load again.
     */
    async loadTable(input: { table: string; runId: string; batchKey: string; stream: string }): Promise<BatchResult | null> {
      const ctx = Context.current();
      // Each heartbeat says how many rows the load has read: nothing else can tell before its
      // one transaction commits (the Web UI shows it on the pending activity, the bench reads it).
      let read = 0;
      const beat = (rows?: number) => {
        if (rows !== undefined) read = rows;
        ctx.heartbeat({ read });
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('the load was cancelled');
      };
      // Heartbeats also while PostgreSQL builds the indexes, which may take minutes on a large table.
      const timer = setInterval(() => ctx.heartbeat({ read }), 5000);
      const stream = deps.claims.stream<RawPage>(input.stream);
      const pages = stream.reader(beat);
      try {
        const result = await loadEmptyTable(deps.pool, deps.config, cfg(input.table), deps.eudc, pages, { runId: input.runId, batchKey: input.batchKey, threads: deps.env.LOAD_THREADS, progress: beat });
        if (result) log(input.table, input.batchKey).info({ ...result, cursor: undefined, reviews: undefined }, 'table loaded in one transaction');
        return result;
      } finally {
        clearInterval(timer);
        pages.close();
        await stream.close().catch(() => {});
      }
    },

    /** The next row ids of a queue after `afterId`. */
    async queuedRowIds(input: { table: string; queue: RowQueue; afterId: number; limit: number }): Promise<number[]> {
      if (input.queue === 'held') return heldIds(deps.pool, input.table, 'legacy-to-new', input.afterId, input.limit);
      return queuedIds(deps.pool, input.table, input.queue, input.afterId, input.limit);
    },

    /** After a load, incremental reading goes on from the newest row noted before it; after a catch-up, trigger mode follows its queue. */
    async moveWatermark(input: { table: string; after: { load: Cursor } | { catchup: true } }): Promise<void> {
      if ('load' in input.after) await advanceWatermark(deps.pool, input.table, 'legacy-to-new', 'timestamp', input.after.load);
      else await finishCatchup(deps.pool, input.table);
    },

    /** Records how any run ended (table, backfill, retry, repair, check, rollback, resolution): once. */
    async finishRun(input: { runId: string; status: 'completed' | 'failed' | 'cancelled'; error?: string; details?: unknown }): Promise<RunSummary> {
      const summary = await finishRun(deps.pool, input);
      if (!summary) throw ApplicationFailure.nonRetryable(`run ${input.runId} is not recorded in sync_runs`, 'RunMissing');
      return summary;
    },

    async beginRun(input: { runId: string; kind: 'check' | 'resolution'; details?: unknown }): Promise<void> {
      await beginRun(deps.pool, { id: input.runId, kind: input.kind, details: input.details });
    },

    // ─────────────────────────────── write-back ───────────────────────────────

    /** The outbox's next orders (or the given ones), converted and planned; the writes into a claim for the legacy agent. */
    async planWriteBack(input: { batchKey: string; batchSize?: number; orderIds?: number[] }): Promise<{ count: number; writes: number; more: boolean }> {
      const limit = input.batchSize ?? cfg('deliveries').batchSize;
      // One entry more than the batch takes: whether the outbox holds more, without a round to find out.
      const waiting = input.orderIds ? [] : await pendingOutbox(deps.pool, limit + 1);
      const entries = waiting.slice(0, limit);
      const orderIds = input.orderIds ?? entries.map((e) => e.orderId);
      const orders = await readOrders(deps.pool, [...new Set(orderIds)]);
      const legacyIds = [...orders.values()].map((o) => o.order.legacy_id).filter((id): id is number => id !== null);
      const states = await readRowStates(deps.pool, 'deliveries', legacyIds);
      const plan = planToLegacy({ outboxIds: entries.map((e) => e.id), orderIds, orders, states, eudc: deps.eudc });
      await Promise.all([deps.claims.put(writesKey(input.batchKey), plan.writes), deps.claims.put(planKey(input.batchKey), { ...plan, writes: [] } satisfies WriteBackPlan)]);
      return { count: input.orderIds ? orderIds.length : entries.length, writes: plan.writes.length, more: waiting.length > limit };
    },

    /** PostgreSQL's record of a write-back batch the legacy agent wrote. */
    async recordWriteBack(input: { batchKey: string; runId: string; legacyWritten: boolean }): Promise<BatchResult> {
      // Recorded before (this step run again after its commit, which dropped the claims): the
      // first result. A missing claim here would have the batch planned again under its key,
      // with the outbox's next orders, which legacy would then receive twice.
      const prior = await appliedBefore(deps.pool, input.batchKey);
      if (prior) return prior;
      const plan = await deps.claims.get<WriteBackPlan>(planKey(input.batchKey));
      const results = input.legacyWritten ? await deps.claims.get<LegacyWriteResult[]>(writtenKey(input.batchKey)) : [];
      const result = await recordWriteBackInPostgres(deps.pool, plan, results, input);
      await deps.claims.drop(planKey(input.batchKey), writesKey(input.batchKey), writtenKey(input.batchKey)).catch(() => {});
      log('deliveries', input.batchKey).info({ ...result, cursor: undefined, reviews: undefined }, 'write-back batch recorded');
      return result;
    },

    // ─────────────────────────────── consistency check ───────────────────────────────

    async beginCheck(input: { checkId: string; tables?: string[]; repair: boolean; chunkSize: number }): Promise<{ tables: string[]; newTables: Record<string, string>; startedAt: string }> {
      for (const t of input.tables ?? []) cfg(t);
      const tables = tableLevels(deps.config, input.tables).flat();
      const startedAt = await beginReport(deps.pool, input.checkId, input.repair);
      // The check is a run: repairs hang under it and are undoable with it.
      await beginRun(deps.pool, { id: input.checkId, kind: 'check', details: { tables, repair: input.repair } });
      return { tables, newTables: Object.fromEntries(tables.map((t) => [t, cfg(t).newTable])), startedAt };
    },

    async countNew(input: { table: string; legacy: number }): Promise<TableCounts> {
      return countNew(deps.pool, cfg(input.table), input.legacy);
    },

    /** A chunk the legacy agent captured, compared with PostgreSQL; with repair, the differences are queued. */
    async compareChunk(input: { checkId: string; table: string; batchKey: string; lower: number | null; upper: number | null; repair: boolean }): Promise<ChunkReport> {
      // Compared before (this step run again after its commit, which dropped the claim): the first report.
      const key = stepKey(input.batchKey);
      const prior = await appliedBefore<ChunkReport>(deps.pool, key);
      if (prior) return prior;
      const raw = await deps.claims.get<RawBatch>(rawKey(input.batchKey));
      Context.current().heartbeat();
      const t = cfg(input.table);
      const report = await compareChunk(deps.pool, t, deps.eudc, { checkId: input.checkId, stepKey: key, rows: pageRows(t.mapping, raw.page), lower: input.lower, upper: input.upper, repair: input.repair });
      await deps.claims.drop(rawKey(input.batchKey)).catch(() => {});
      return report;
    },

    async finishCheck(input: { checkId: string; status: 'completed' | 'failed'; differences: number; result: unknown }): Promise<{ finishedAt: string }> {
      return { finishedAt: await finishReport(deps.pool, input.checkId, input) };
    },

    // ─────────────────────────────── rollback ───────────────────────────────

    /** Pauses the sync cycle's schedule (running cycles finish); a missing schedule is not an error. */
    async pauseSyncSchedule(input: { note: string }): Promise<'paused' | 'already-paused' | 'not-found'> {
      const client = await connectClient(deps.env);
      try {
        return await pauseSchedule(client, input.note);
      } finally {
        await client.connection.close().catch(() => {});
      }
    },

    async resumeSyncSchedule(input: { note: string }): Promise<'resumed' | 'not-found'> {
      const client = await connectClient(deps.env);
      try {
        return await resumeSchedule(client, input.note);
      } finally {
        await client.connection.close().catch(() => {});
      }
    },

    /**
     * Fails (retryably) while a sync run the rollback concerns is still running: in run mode
     * the runs undone, in since mode any. A run recorded as running whose workflow is no longer
     * running does not count.
     */
    async waitForQuietSync(input: { rollbackId: string; runId?: string }): Promise<{ staleRuns: string[] }> {
      const running = await runningRuns(deps.pool, { except: input.rollbackId, among: input.runId ? await runTree(deps.pool, input.runId) : null });
      if (running.length === 0) return { staleRuns: [] };
      const client = await connectClient(deps.env);
      const active: string[] = [];
      try {
        for (const r of running) {
          try {
            const d = await client.workflow.getHandle(r.workflowId).describe();
            if (d.status.name === 'RUNNING') active.push(r.workflowId);
          } catch (err) {
            if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
          }
        }
      } finally {
        await client.connection.close().catch(() => {});
      }
      if (active.length > 0) throw ApplicationFailure.retryable(`sync runs still running: ${active.join(', ')} (the schedule is paused; waiting for them to finish)`, 'SyncStillRunning');
      return { staleRuns: running.map((r) => r.id) };
    },

    async beginRollback(input: { rollbackId: string; request: RollbackRequest }): Promise<{ selection: RollbackSelection; entries: number; rows: number }> {
      return beginRollback(deps.pool, deps.config, input.rollbackId, input.request);
    },

    /** A page: PostgreSQL rows restored here; legacy rows planned into a claim for the legacy agent (legacyBatch). */
    async rollbackPage(input: { rollbackId: string; batchKey: string; selection: RollbackSelection; before: RollbackPosition | null; limit: number; dryRun: boolean; force: boolean }): Promise<RollbackPageResult> {
      const { result, legacy } = await rollbackPage(deps.pool, input);
      if (legacy.length > 0) {
        await deps.claims.put(restoresKey(input.batchKey), legacy);
        result.legacyBatch = input.batchKey;
      }
      Context.current().heartbeat();
      return result;
    },

    async recordLegacyRestores(input: { rollbackId: string; batchKey: string; dryRun: boolean }): Promise<RollbackPageResult> {
      // Recorded before (this step run again after its commit, which dropped the claims): the first result. A dry run records nothing.
      const key = stepKey(input.batchKey);
      const prior = input.dryRun ? null : await appliedBefore<RollbackPageResult>(deps.pool, key);
      if (prior) return prior;
      const restores = await deps.claims.get<LegacyRestore[]>(restoredKey(input.batchKey));
      const result = await recordLegacyRestores(deps.pool, deps, { ...input, stepKey: key }, restores);
      await deps.claims.drop(restoresKey(input.batchKey), restoredKey(input.batchKey)).catch(() => {});
      return result;
    },

    async reopenedReviews(input: { selection: RollbackSelection }): Promise<ReviewStart[]> {
      return reopenedConflicts(deps.pool, input.selection);
    },

    async finishRollbackCounts(input: { rollbackId: string; rows: number; restored: number; conflicts: number }): Promise<void> {
      await setRunCounts(deps.pool, input.rollbackId, { read: input.rows, written: input.restored, conflicts: input.conflicts });
    },

    // ─────────────────────────────── manual conflicts ───────────────────────────────

    async applyResolution(input: { conflictId: number; table: string; resolution: ConflictResolution; runId: string }): Promise<Resolved> {
      return applyResolution(deps.pool, cfg(input.table), deps.eudc, input.conflictId, input.resolution, input.runId);
    },
  };
}

export type CoreActivities = ReturnType<typeof createCoreActivities>;
