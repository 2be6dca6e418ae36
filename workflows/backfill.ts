import { continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { BatchResult } from '../src/sync/applyToNew';
import type { RunSummary, TableSyncPlan } from '../activities/legacyToNew';
import { SyncDirection, SyncTable } from '../src/temporal/searchAttributes';
import { batchSteps, bookkeeping } from './activities';
import { recordedRun } from './recordedRun';
import { progressQuery, type Progress } from './tableSync';

/**
 * A full backfill of one table: every legacy row from the beginning, whatever the watermark
 * (rows whose content is already synced are skipped by their hash). Pages are id ranges known
 * in advance, so several are read, converted and applied side by side, each in one activity
 * and one transaction under its own batch key. The watermark moves once, at the end, to the
 * newest row at the start (what changed meanwhile is read by the next cycle). Continues as new
 * every so many pages and resumes where it was after any crash; query `progress` to follow it.
 */

export interface BackfillInput {
  table: string;
  /** Carried over continue-as-new. */
  resume?: BackfillState;
}

interface BackfillState {
  plan: TableSyncPlan;
  /** Pages are applied up to this id. */
  afterId: number;
  progress: Progress;
}

/** Pages in flight: one converting in the worker while another is written by PostgreSQL. */
const PARALLEL_PAGES = 2;
const PAGES_PER_RUN = 100;

export async function BackfillWorkflow(input: BackfillInput): Promise<RunSummary> {
  const { workflowId } = workflowInfo();
  upsertSearchAttributes([
    { key: SyncTable, value: input.table },
    { key: SyncDirection, value: 'legacy-to-new' },
  ]);
  const plan = input.resume?.plan ?? (await bookkeeping.beginTableSync({ table: input.table, direction: 'legacy-to-new', workflowId, parentId: workflowId, kind: 'backfill' }));
  const state: BackfillState = input.resume ?? {
    plan,
    afterId: 0,
    progress: { batches: 0, read: 0, written: 0, unchanged: 0, heldBack: 0, conflicts: 0, deleted: 0 },
  };
  setHandler(progressQuery, () => ({ ...state.progress, source: 'page' as const, cursor: { ts: null, id: state.afterId } }));
  const watermark = plan.watermark ? { table: input.table, cursor: plan.watermark } : undefined;

  return recordedRun(
    plan.runId,
    async () => {
      for (;;) {
        if (await backfillRun(input.table, plan, state)) break;
        if (state.progress.batches % PAGES_PER_RUN === 0) await continueAsNew<typeof BackfillWorkflow>({ ...input, resume: state });
      }
    },
    { watermark },
  );
}

interface Page {
  no: number;
  afterId: number;
  toId: number | null;
}

/**
 * Up to PAGES_PER_RUN pages from state.afterId, PARALLEL_PAGES at a time, the next page ends
 * asked for before the known ones run out. True when the table's end was reached.
 */
async function backfillRun(table: string, plan: TableSyncPlan, state: BackfillState): Promise<boolean> {
  const pageSize = plan.backfillBatchSize;
  const limit = state.progress.batches + PAGES_PER_RUN - (state.progress.batches % PAGES_PER_RUN);
  const queue: Page[] = [];
  let nextNo = state.progress.batches;
  let nextAfter = state.afterId;
  let atEnd = false;
  let asking: Promise<void> | null = null;
  const ask = () =>
    (asking ??= batchSteps.backfillPageEnds({ table, afterId: nextAfter, pageSize, pages: PARALLEL_PAGES * 4 }).then((ends) => {
      for (const toId of ends) {
        if (nextNo >= limit) break;
        queue.push({ no: nextNo++, afterId: nextAfter, toId });
        if (toId === null) atEnd = true;
        else nextAfter = toId;
      }
      asking = null;
    }));
  let last: { page: Page; result: BatchResult & { lastId: number } } | null = null;
  const lane = async () => {
    for (;;) {
      while (queue.length === 0) {
        if (atEnd || nextNo >= limit) return;
        await ask();
      }
      const page = queue.shift()!;
      if (queue.length < PARALLEL_PAGES && !atEnd && nextNo < limit) ask().catch(() => {}); // a failure reaches the lane that waits for it
      const result = await batchSteps.backfillPage({ table, runId: plan.runId, batchKey: `${plan.runId}#${page.no}`, afterId: page.afterId, toId: page.toId, pageSize });
      add(state.progress, result);
      if (!last || page.no > last.page.no) last = { page, result };
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_PAGES }, lane));
  if (!last) return true;
  const { page, result } = last as { page: Page; result: BatchResult & { lastId: number } };
  state.afterId = page.toId ?? result.lastId;
  // An open-ended last page that came back full: rows were added meanwhile, go on after it.
  return page.toId === null && result.read < pageSize;
}

function add(p: Progress, r: BatchResult): void {
  p.batches++;
  p.read += r.read;
  p.written += r.written;
  p.unchanged += r.unchanged;
  p.heldBack += r.heldBack;
  p.conflicts += r.conflicts;
  p.deleted += r.deleted;
}
