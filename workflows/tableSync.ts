import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  patched,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  emptyProgress,
  ids,
  type BackfillInput,
  type BatchResult,
  type Cursor,
  type FetchResult,
  type Progress,
  type ReviewStart,
  type RowQueue,
  type RunSummary,
  type TableSyncInput,
  type TableSyncPlan,
  type TableSyncState,
} from '../src/shared';
import { progressQuery } from '../src/messages';
import { SyncDirection, SyncTable } from '../src/temporal/searchAttributes';
import type { CoreActivities } from '../activities/core';
import { batchSteps, claimGone, core, bookkeeping, legacy, legacyStream, loading, nonRetryable } from './activities';
import { ConflictReviewWorkflow } from './conflictReview';
import { recordedRun } from './runs';

/**
 * One table in one direction (legacy → new), in phases:
 * - load: the whole table by id ranges, two pages side by side (a backfill, a table's first
 *   sync); then the watermark moves to the newest row noted when the run began;
 * - pages: the table's changes from the watermark (timestamp pages, or the trigger queue),
 *   the next page read while this one is applied; a catch-up then hands over to the queue;
 * - the row queues, by id (rows waiting for a parent, rows to repair, held-back rows).
 * Each batch is two activities: the legacy agent captures it into a claim, a core worker
 * converts, reconciles and applies it in one transaction. Long runs continue as new; the
 * progress query answers across the hand-overs.
 */

/** Load pages in flight: one converting while another is written by PostgreSQL. */
export const PARALLEL_PAGES = 2;
/** A load in one transaction: pages the legacy agent may be ahead of it (in Redis), and how often it is started again after a failure. */
const LOAD_WINDOW = 4;
export const LOAD_ATTEMPTS = 3;
const LOAD_PAUSE_SECONDS = 10;
/** The patch (docs/versioning.md) behind which a load into an empty table takes the one-transaction path. */
const LOAD_AT_ONCE = 'load-empty-table-at-once';
export const BATCHES_PER_RUN = 100;
/** A batch whose claim vanished from Redis this many times in a row fails the run. */
const CLAIM_LOSSES = 5;

export async function TableSyncWorkflow(input: TableSyncInput): Promise<RunSummary> {
  return runTable(input);
}

/** Every legacy row of a table from the beginning, whatever the watermark; rows already synced are skipped by their hash. */
export async function BackfillWorkflow(input: BackfillInput | TableSyncInput): Promise<RunSummary> {
  if ('plan' in input) return runTable(input);
  const { workflowId } = workflowInfo();
  const edges = await legacy.tableEdges({ table: input.table });
  const plan = await bookkeeping().beginTableSync({ start: { table: input.table, direction: 'legacy-to-new', kind: 'backfill', workflowId }, edges });
  return runTable({ plan });
}

/** A run outside a cycle that drains one row queue: held-back rows (retry) or rows to repair. */
export async function QueueSyncWorkflow(input: { table: string; queue: 'held' | 'repair'; parentId?: string } | TableSyncInput): Promise<RunSummary> {
  if ('plan' in input) return runTable(input);
  const { workflowId } = workflowInfo();
  const plan = await bookkeeping().beginTableSync({
    start: { table: input.table, direction: 'legacy-to-new', kind: input.queue === 'held' ? 'retry' : 'repair', workflowId, parentId: input.parentId, queues: [input.queue] },
    edges: null,
  });
  return runTable({ plan, parentId: input.parentId });
}

function firstPhase(plan: TableSyncPlan): TableSyncState['phase'] | null {
  if (plan.load) return 'load';
  if (plan.pages) return 'pages';
  return plan.queues[0] ?? null;
}

async function runTable(input: TableSyncInput): Promise<RunSummary> {
  const { plan } = input;
  upsertSearchAttributes([
    { key: SyncTable, value: plan.table },
    { key: SyncDirection, value: plan.direction },
  ]);
  const state: TableSyncState = input.resume ?? { phase: firstPhase(plan) ?? 'pages', cursor: plan.cursor, afterId: 0, progress: emptyProgress() };
  setHandler(progressQuery, () => ({ ...state.progress, phase: state.phase, cursor: state.cursor, total: plan.load?.rows ?? null }));
  const run = new TableRun(plan, state, input);
  const { summary } = await recordedRun(plan.runId, async () => {
    if (firstPhase(plan) === null) return;
    const readsTable = state.phase === 'load' || state.phase === 'pages';
    if (state.phase === 'load') {
      await run.load();
      if (plan.load?.watermark) await bookkeeping().moveWatermark({ table: plan.table, after: { load: plan.load.watermark } });
      run.next(plan.pages ? 'pages' : plan.queues[0]);
    }
    if (state.phase === 'pages') {
      await run.pages();
      run.next(plan.queues[0]);
    }
    // A catch-up has read the table: from now on trigger mode follows its queue.
    if (readsTable && plan.catchup) await bookkeeping().moveWatermark({ table: plan.table, after: { catchup: true } });
    while (state.phase !== 'done') {
      await run.queue(state.phase as RowQueue);
      run.next(plan.queues[plan.queues.indexOf(state.phase as RowQueue) + 1]);
    }
  });
  return summary;
}

class TableRun {
  private batchesThisRun = 0;
  /**
   * What the run's batch keys begin with: its run id, and for a backfill its execution too. A
   * table's backfill has the same workflow id (its run id) each time: without the execution, a
   * backfill started again would find the last one's batches applied (once per key) and do nothing.
   */
  private readonly keyPrefix: string;

  constructor(
    private readonly plan: TableSyncPlan,
    private readonly state: TableSyncState,
    private readonly input: TableSyncInput,
  ) {
    this.keyPrefix = plan.kind === 'backfill' ? `${plan.runId}@${workflowInfo().firstExecutionRunId}` : plan.runId;
  }

  next(phase: TableSyncState['phase'] | undefined): void {
    this.state.phase = phase ?? 'done';
    this.state.cursor = phase === 'pages' ? (this.plan.load?.watermark ?? this.plan.cursor) : { ts: null, id: 0 };
  }

  /** Continues as new (this workflow's own type) once enough batches are in its history. */
  private async budget(): Promise<void> {
    if (this.batchesThisRun < BATCHES_PER_RUN) return;
    await makeContinueAsNewFunc({ workflowType: workflowInfo().workflowType })({ ...this.input, resume: this.state } as TableSyncInput);
  }

  private batchKey(no = this.state.progress.batches): string {
    return `${this.keyPrefix}#${no}`;
  }

  /** Applies a captured batch, its counts into the progress; false when its claim vanished (capture again). */
  private async apply(steps: CoreActivities, batchKey: string, cursor: Cursor | null, reached?: Cursor): Promise<BatchResult | null> {
    let result: BatchResult;
    try {
      result = await steps.applyBatch({ table: this.plan.table, runId: this.plan.runId, batchKey, mode: this.plan.mode, cursor, reached });
    } catch (err) {
      if (claimGone(err)) return null;
      throw err;
    }
    add(this.state.progress, result);
    this.batchesThisRun++;
    await startReviews(result.reviews);
    return result;
  }

  /**
   * Into an empty new table, the whole table in one transaction (src/apply/bulkLoad.ts);
   * otherwise (or should it no longer be empty) id-range pages, each reconciled.
   */
  async load(): Promise<void> {
    if (this.plan.load!.empty && this.state.progress.batches === 0 && patched(LOAD_AT_ONCE) && (await this.loadAtOnce())) return;
    await this.loadPages();
  }

  /**
   * The legacy agent streams the table's pages (captureTable) to the core worker that loads
   * them in one transaction (loadTable). A failed load left nothing behind: it starts again
   * after a pause, up to LOAD_ATTEMPTS times (a non-retryable failure at once); a failed stream
   * (after its own retries) fails the run. False when the new table was not empty after all.
   */
  private async loadAtOnce(): Promise<boolean> {
    const { table, runId } = this.plan;
    const batchKey = this.batchKey();
    for (let attempt = 1; ; attempt++) {
      const stream = `${batchKey}/${attempt}`;
      const reading = new CancellationScope();
      const loadingScope = new CancellationScope();
      let streamFailure: unknown = null;
      const streamed = reading.run(() => legacyStream.captureTable({ table, stream, pageSize: this.plan.load!.pageSize, window: LOAD_WINDOW }));
      streamed.catch((err) => {
        streamFailure = err;
        loadingScope.cancel();
      });
      try {
        const result = await loadingScope.run(() => loading.loadTable({ table, runId, batchKey, stream }));
        if (!result) return false;
        add(this.state.progress, result);
        this.batchesThisRun++;
        return true;
      } catch (err) {
        if (streamFailure) throw streamFailure;
        if (isCancellation(err) || attempt >= LOAD_ATTEMPTS || nonRetryable(err)) throw err;
      } finally {
        // Done with, whatever happened: a load replayed after its commit did not need the stream.
        reading.cancel();
        await streamed.catch(() => undefined);
      }
      // Whatever took PostgreSQL or Redis away may need a moment to come back.
      await sleep(`${attempt * LOAD_PAUSE_SECONDS} seconds`);
    }
  }

  /** Id-range pages, PARALLEL_PAGES at a time, the next page ends asked for before the known ones run out. */
  private async loadPages(): Promise<void> {
    const { table } = this.plan;
    const pageSize = this.plan.load!.pageSize;
    for (;;) {
      const limit = this.state.progress.batches + BATCHES_PER_RUN - this.batchesThisRun;
      const queue: { no: number; afterId: number; toId: number | null }[] = [];
      let nextNo = this.state.progress.batches;
      let nextAfter = this.state.afterId;
      let atEnd = false;
      let asking: Promise<void> | null = null;
      const ask = () =>
        (asking ??= legacy.pageEnds({ table, afterId: nextAfter, pageSize, pages: PARALLEL_PAGES * 4 }).then((ends) => {
          for (const toId of ends) {
            if (nextNo >= limit) break;
            queue.push({ no: nextNo++, afterId: nextAfter, toId });
            if (toId === null) atEnd = true;
            else nextAfter = toId;
          }
          asking = null;
        }));
      let last: { no: number; toId: number | null; count: number; lastId: number } | null = null;
      const lane = async () => {
        for (;;) {
          while (queue.length === 0) {
            if (atEnd || nextNo >= limit) return;
            await ask();
          }
          const page = queue.shift()!;
          // A failure reaches the lane that waits for it.
          if (queue.length < PARALLEL_PAGES && !atEnd && nextNo < limit) ask().catch(() => undefined);
          const key = this.batchKey(page.no);
          for (let losses = 0; ; losses++) {
            if (losses >= CLAIM_LOSSES) throw ApplicationFailure.nonRetryable(`batch ${key}: its rows vanished from Redis ${CLAIM_LOSSES} times`, 'ClaimMissing');
            const captured = await legacy.captureIdRange({ table, batchKey: key, afterId: page.afterId, toId: page.toId, pageSize });
            const result = await this.apply(core, key, null, { ts: null, id: captured.lastId });
            if (!result) continue;
            if (!last || page.no > last.no) last = { no: page.no, toId: page.toId, count: result.read, lastId: result.cursor.id };
            break;
          }
        }
      };
      await Promise.all(Array.from({ length: PARALLEL_PAGES }, lane));
      if (!last) return;
      const l = last as { no: number; toId: number | null; count: number; lastId: number };
      this.state.afterId = l.toId ?? l.lastId;
      // An open-ended last page that came back short reached the table's end; one that came back full: rows were added meanwhile.
      if (l.toId === null && l.count < pageSize) return;
      await this.budget();
    }
  }

  /** The table's pages from the cursor, each read while the previous one is applied. */
  async pages(): Promise<void> {
    const { table, batchSize } = this.plan;
    const capture = (no: number, cursor: Cursor) => legacy.capturePage({ table, batchKey: this.batchKey(no), cursor, batchSize });
    let ahead: { no: number; cursor: Cursor; fetched: Promise<FetchResult> } | null = null;
    let losses = 0;
    for (;;) {
      await this.budget();
      const no = this.state.progress.batches;
      const cursor = this.state.cursor;
      let fetched: FetchResult;
      if (ahead && ahead.no === no && sameCursor(ahead.cursor, cursor)) fetched = await ahead.fetched;
      else if (no === 0 && this.plan.first && sameCursor(this.plan.cursor, cursor)) fetched = this.plan.first;
      else fetched = await capture(no, cursor);
      ahead = null;
      if (fetched.count === 0) return;
      if (!fetched.done) {
        ahead = { no: no + 1, cursor: fetched.next, fetched: capture(no + 1, fetched.next) };
        ahead.fetched.catch(() => undefined); // awaited (and its failure seen) only if used
      }
      // A local activity holds the workflow task open, and with it the capture of the next page: the last page only.
      const result = await this.apply(ahead ? core : batchSteps(), this.batchKey(no), fetched.next);
      if (!result) {
        if (++losses >= CLAIM_LOSSES) throw ApplicationFailure.nonRetryable(`batch ${this.batchKey(no)}: its rows vanished from Redis ${CLAIM_LOSSES} times`, 'ClaimMissing');
        ahead = null; // the batch is captured again from its cursor, and what follows with it
        this.plan.first = null;
        continue;
      }
      losses = 0;
      // A replayed batch reports the cursor it committed with, which is the one to go on from.
      this.state.cursor = result.replayed ? result.cursor : fetched.next;
      if (fetched.done && !ahead) return;
    }
  }

  /** One row queue, by id, in id order. */
  async queue(queue: RowQueue): Promise<void> {
    const { table, batchSize } = this.plan;
    for (;;) {
      await this.budget();
      const rowIds = await bookkeeping().queuedRowIds({ table, queue, afterId: this.state.cursor.id, limit: batchSize });
      if (rowIds.length === 0) return;
      const key = this.batchKey();
      for (let losses = 0; ; losses++) {
        if (losses >= CLAIM_LOSSES) throw ApplicationFailure.nonRetryable(`batch ${key}: its rows vanished from Redis ${CLAIM_LOSSES} times`, 'ClaimMissing');
        await legacy.captureRows({ table, batchKey: key, ids: rowIds });
        if (await this.apply(batchSteps(), key, null)) break;
      }
      this.state.cursor = { ts: null, id: rowIds[rowIds.length - 1] };
      if (rowIds.length < batchSize) return;
    }
  }
}

const sameCursor = (a: Cursor, b: Cursor) => a.ts === b.ts && a.id === b.id;

function add(p: Progress, r: BatchResult): void {
  p.batches++;
  p.read += r.read;
  p.written += r.written;
  p.unchanged += r.unchanged;
  p.heldBack += r.heldBack;
  p.conflicts += r.conflicts;
  p.deleted += r.deleted;
}

/** One review workflow per manual conflict a batch opened; it outlives this run (ABANDON). */
export async function startReviews(reviews: ReviewStart[]): Promise<void> {
  for (const r of reviews) {
    try {
      await startChild(ConflictReviewWorkflow, {
        workflowId: ids.review(r.conflictId),
        args: [r],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `conflict ${r.conflictId}: ${r.table} ${r.legacyId ?? ''} waits for review`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}
