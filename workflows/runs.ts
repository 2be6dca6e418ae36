import { CancellationScope, ContinueAsNew, isCancellation, upsertSearchAttributes } from '@temporalio/workflow';
import type { RunSummary } from '../src/shared';
import { rootMessage } from '../src/temporal/failures';
import { SyncOutcome, SyncRows } from '../src/temporal/searchAttributes';
import { bookkeeping } from './activities';

/**
 * Runs the body of a run of any kind and records how it ended, in sync_runs and in the search
 * attributes the Web UI filters by: completed, failed (with the innermost reason) or
 * cancelled. The end is recorded even when the run is being cancelled; continuing as new is
 * not an end.
 */
export async function recordedRun<T>(runId: string, body: () => Promise<T>, outcome: (value: T, summary: RunSummary) => string = defaultOutcome): Promise<{ value: T; summary: RunSummary }> {
  let value: T;
  try {
    value = await body();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const status = isCancellation(err) ? 'cancelled' : 'failed';
    await CancellationScope.nonCancellable(() => bookkeeping().finishRun({ runId, status, error: rootMessage(err) }));
    upsertSearchAttributes([{ key: SyncOutcome, value: status }]);
    throw err;
  }
  const summary = await bookkeeping().finishRun({ runId, status: 'completed' });
  upsertSearchAttributes([
    { key: SyncRows, value: summary.written },
    { key: SyncOutcome, value: outcome(value, summary) },
  ]);
  return { value, summary };
}

const defaultOutcome = (_v: unknown, s: RunSummary) => (s.heldBack > 0 ? 'completed-with-held-back' : 'completed');
