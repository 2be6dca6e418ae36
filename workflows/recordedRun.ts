import { ContinueAsNew, upsertSearchAttributes } from '@temporalio/workflow';
import type { FinishInput, RunSummary } from '../activities/legacyToNew';
import { rootMessage } from '../src/temporal/failures';
import { SyncOutcome, SyncRows } from '../src/temporal/searchAttributes';
import { bookkeeping } from './activities';

/**
 * Runs the body of a table run and records how it ended, in sync_runs and in the search
 * attributes the Web UI filters by (with a completed run, what `completed` carries: a backfill's
 * watermark). Continuing as new is not an ending.
 */
export async function recordedRun(runId: string, body: () => Promise<void>, completed: Pick<FinishInput, 'watermark'> = {}): Promise<RunSummary> {
  try {
    await body();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    await bookkeeping.finishTableSync({ runId, status: 'failed', error: rootMessage(err) });
    upsertSearchAttributes([{ key: SyncOutcome, value: 'failed' }]);
    throw err;
  }
  const summary = await bookkeeping.finishTableSync({ runId, status: 'completed', ...completed });
  upsertSearchAttributes([
    { key: SyncRows, value: summary.written },
    { key: SyncOutcome, value: summary.heldBack > 0 ? 'completed-with-held-back' : 'completed' },
  ]);
  return summary;
}
