import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchSource, FetchResult, RunSummary, TableSyncPlan } from '../activities/legacyToNew';
import type { Direction } from '../src/config/tables';
import type { Cursor } from '../src/sync/legacyReader';
import { SyncDirection, SyncTable } from '../src/temporal/searchAttributes';
import { batchSteps, bookkeeping } from './activities';
import { recordedRun } from './recordedRun';

/**
 * One table in one direction: batches until the source is drained, then, when there are any,
 * a pass over rows held back while waiting for a parent. Large runs continue as new every
 * BATCHES_PER_RUN batches so history stays small; the progress query answers across those
 * hand-overs.
 */

export type TableSyncKind = 'table' | 'retry';

export interface TableSyncInput {
  table: string;
  direction: Direction;
  kind?: TableSyncKind;
  parentId?: string;
  /** Made by the cycle's planCycle, which then recorded the run already. */
  plan?: TableSyncPlan;
  /** Carried over continue-as-new. */
  resume?: LoopState;
}

export interface Progress {
  batches: number;
  read: number;
  written: number;
  unchanged: number;
  heldBack: number;
  conflicts: number;
  deleted: number;
}

interface LoopState {
  plan: TableSyncPlan;
  source: BatchSource;
  cursor: Cursor;
  progress: Progress;
}

export const progressQuery = defineQuery<Progress & { source: BatchSource; cursor: Cursor }>('progress');

const BATCHES_PER_RUN = 100;

export async function TableSyncWorkflow(input: TableSyncInput): Promise<RunSummary> {
  const kind = input.kind ?? 'table';
  const { workflowId } = workflowInfo();
  upsertSearchAttributes([
    { key: SyncTable, value: input.table },
    { key: SyncDirection, value: input.direction },
  ]);

  const plan =
    input.resume?.plan ??
    input.plan ??
    (await bookkeeping.beginTableSync({ table: input.table, direction: input.direction, workflowId, parentId: input.parentId, kind }));
  const state: LoopState = input.resume ?? {
    plan,
    source: kind === 'retry' ? 'held' : 'page',
    cursor: kind === 'retry' ? { ts: null, id: 0 } : plan.cursor,
    progress: { batches: 0, read: 0, written: 0, unchanged: 0, heldBack: 0, conflicts: 0, deleted: 0 },
  };
  setHandler(progressQuery, () => ({ ...state.progress, source: state.source, cursor: state.cursor }));

  return recordedRun(plan.runId, async () => {
    let batchesThisRun = 0;
    let ahead: Ahead | null = null;
    let claimLosses = 0;
    for (;;) {
      if (batchesThisRun >= BATCHES_PER_RUN) {
        await continueAsNew<typeof TableSyncWorkflow>({ ...input, resume: state });
      }
      const batchKey = `${plan.runId}#${state.progress.batches}`;
      const fetched: FetchResult =
        ahead && ahead.batchKey === batchKey && sameCursor(ahead.cursor, state.cursor)
          ? await ahead.fetched
          : await fetchPage(input.table, plan, state, kind, batchKey, state.cursor);
      ahead = null;
      batchesThisRun++;
      if (fetched.count === 0) {
        if (state.source === 'held' || !plan.heldPending) break;
        // Then the rows that waited for a parent: their parent may have arrived meanwhile.
        state.source = 'held';
        state.cursor = { ts: null, id: 0 };
        continue;
      }
      // Read the next page while this one is applied; the applies themselves stay in order.
      if (!fetched.done && state.source === 'page') {
        const nextKey = `${plan.runId}#${state.progress.batches + 1}`;
        ahead = { batchKey: nextKey, cursor: fetched.next, fetched: fetchPage(input.table, plan, state, kind, nextKey, fetched.next) };
        ahead.fetched.catch(() => {}); // awaited (and its failure seen) only if used
      }
      if (!(await applyBatch(input.table, plan, state, batchKey, fetched))) {
        if (++claimLosses >= 5) throw ApplicationFailure.nonRetryable(`batch ${batchKey}: its rows vanished from Redis 5 times`, 'ClaimMissing');
        ahead = null; // the batch is fetched again from its cursor, and what follows with it
        continue;
      }
      claimLosses = 0;
      if (fetched.done && !ahead) {
        if (state.source === 'held' || !plan.heldPending) break;
        state.source = 'held';
        state.cursor = { ts: null, id: 0 };
      }
    }
  });
}

interface Ahead {
  batchKey: string;
  cursor: Cursor;
  fetched: Promise<FetchResult>;
}

const sameCursor = (a: Cursor, b: Cursor) => a.ts === b.ts && a.id === b.id;

/** Reads the legacy rows after `cursor` into Redis. */
function fetchPage(table: string, plan: TableSyncPlan, state: LoopState, kind: TableSyncKind, batchKey: string, cursor: Cursor): Promise<FetchResult> {
  return batchSteps.fetchBatch({
    table,
    batchKey,
    cursor,
    source: state.source,
    batchSize: plan.batchSize,
    heldKinds: kind === 'retry' ? undefined : ['missing_parent'],
  });
}

const claimGone = (err: unknown) => err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ClaimMissing';

/** convert → reconcile → apply, then the progress; false when a claim vanished from Redis and the batch must be fetched again. */
async function applyBatch(table: string, plan: TableSyncPlan, state: LoopState, batchKey: string, fetched: FetchResult): Promise<boolean> {
  let result;
  try {
    result = await batchSteps.applyBatch({
      table,
      runId: plan.runId,
      batchKey,
      mode: plan.mode,
      cursor: state.source === 'page' ? fetched.next : null,
    });
  } catch (err) {
    if (claimGone(err)) return false;
    throw err;
  }
  const p = state.progress;
  p.batches++;
  p.read += result.read;
  p.written += result.written;
  p.unchanged += result.unchanged;
  p.heldBack += result.heldBack;
  p.conflicts += result.conflicts;
  p.deleted += result.deleted;
  // A replayed batch reports the cursor it committed with, which is the one to go on from.
  state.cursor = result.replayed && state.source === 'page' ? result.cursor : fetched.next;
  return true;
}
