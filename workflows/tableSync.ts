import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchSource, RunSummary, TableSyncPlan } from '../activities/legacyToNew';
import type { Direction } from '../src/config/tables';
import type { Cursor } from '../src/sync/legacyReader';
import { SyncDirection, SyncOutcome, SyncRows, SyncTable } from '../src/temporal/searchAttributes';
import { rootMessage } from '../src/temporal/failures';
import { batchSteps, bookkeeping } from './activities';

/**
 * One table in one direction: batches until the source is drained, then a pass over rows
 * held back while waiting for a parent. Large runs continue as new every BATCHES_PER_RUN
 * batches so history stays small; the progress query answers across those hand-overs.
 */

export type TableSyncKind = 'table' | 'backfill' | 'retry';

export interface TableSyncInput {
  table: string;
  direction: Direction;
  kind?: TableSyncKind;
  parentId?: string;
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
    (await bookkeeping.beginTableSync({ table: input.table, direction: input.direction, workflowId, parentId: input.parentId, kind }));
  const state: LoopState = input.resume ?? {
    plan,
    source: kind === 'retry' ? 'held' : 'page',
    cursor: kind === 'retry' ? { ts: null, id: 0 } : plan.cursor,
    progress: { batches: 0, read: 0, written: 0, unchanged: 0, heldBack: 0, conflicts: 0, deleted: 0 },
  };
  setHandler(progressQuery, () => ({ ...state.progress, source: state.source, cursor: state.cursor }));

  try {
    let batchesThisRun = 0;
    for (;;) {
      if (batchesThisRun >= BATCHES_PER_RUN) {
        await continueAsNew<typeof TableSyncWorkflow>({ ...input, resume: state });
      }
      const batch = await runBatch(input.table, plan, state, kind);
      batchesThisRun++;
      if (batch.done) {
        if (state.source === 'held' || kind === 'backfill') break;
        // Then the rows that waited for a parent: their parent may have arrived meanwhile.
        state.source = 'held';
        state.cursor = { ts: null, id: 0 };
      }
    }
  } catch (err) {
    await bookkeeping.finishTableSync({ runId: plan.runId, status: 'failed', error: rootMessage(err) });
    upsertSearchAttributes([{ key: SyncOutcome, value: 'failed' }]);
    throw err;
  }
  const summary = await bookkeeping.finishTableSync({ runId: plan.runId, status: 'completed' });
  upsertSearchAttributes([
    { key: SyncRows, value: summary.written },
    { key: SyncOutcome, value: summary.heldBack > 0 ? 'completed-with-held-back' : 'completed' },
  ]);
  return summary;
}

/** fetch → convert → reconcile → upsert; a vanished claim means the batch is fetched again. */
async function runBatch(table: string, plan: TableSyncPlan, state: LoopState, kind: TableSyncKind): Promise<{ done: boolean }> {
  const batchKey = `${plan.runId}#${state.progress.batches}`;
  for (let attempt = 1; ; attempt++) {
    try {
      const fetched = await batchSteps.fetchBatch({
        table,
        batchKey,
        cursor: state.cursor,
        source: state.source,
        batchSize: plan.batchSize,
        heldKinds: kind === 'retry' ? undefined : ['missing_parent'],
      });
      if (fetched.count === 0) return { done: true };
      await batchSteps.convertBatch({ table, batchKey });
      await batchSteps.reconcileBatch({ table, batchKey });
      const result = await batchSteps.upsertBatch({
        table,
        runId: plan.runId,
        batchKey,
        mode: plan.mode,
        cursor: state.source === 'page' ? fetched.next : null,
      });
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
      return { done: fetched.done };
    } catch (err) {
      const claimGone = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ClaimMissing';
      if (!claimGone || attempt >= 5) throw err;
    }
  }
}
