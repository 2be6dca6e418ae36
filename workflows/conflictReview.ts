import { allHandlersFinished, ApplicationFailure, condition, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { resolveConflictUpdate, reviewQuery } from '../src/messages';
import { ids, type ConflictResolution, type ConflictReviewInput, type ConflictReviewResult } from '../src/shared';
import { rootMessage } from '../src/temporal/failures';
import { SyncOutcome, SyncTable } from '../src/temporal/searchAttributes';
import { bookkeeping, core, operatorSteps } from './activities';
import { recordedRun } from './runs';
import { writeBackBatch } from './writeBack';

/**
 * One open manual conflict, waiting for an operator (`luckygas-sync conflicts resolve`, or an
 * Update `resolve` from any client). Neither side of the row is overwritten meanwhile; later
 * edits update the review. The resolution is a run of its own: the new row takes it, then the
 * write-back gives it to legacy, both journaled under the run, so a rollback of the run
 * undoes both sides and opens the review again.
 */

const TAKES = ['legacy', 'new', 'merged'];

function validate(r: ConflictResolution, state: string): void {
  if (state !== 'open') throw new Error(`the conflict is ${state}, not open`);
  if (!r || !TAKES.includes(r.take)) throw new Error(`take must be one of ${TAKES.join(', ')}`);
  if (r.set !== undefined && (typeof r.set !== 'object' || r.set === null || Array.isArray(r.set))) throw new Error('set must be an object of column values');
}

export async function ConflictReviewWorkflow(input: ConflictReviewInput): Promise<ConflictReviewResult> {
  let state: 'open' | 'resolving' | 'resolved' = 'open';
  let outcome: ConflictReviewResult | undefined;
  upsertSearchAttributes([
    { key: SyncTable, value: input.table },
    { key: SyncOutcome, value: 'awaiting-review' },
  ]);
  setHandler(reviewQuery, () => ({ conflictId: input.conflictId, state }));
  setHandler(
    resolveConflictUpdate,
    async (resolution) => {
      state = 'resolving';
      try {
        outcome = await resolve(input, resolution);
        state = 'resolved';
        return outcome;
      } catch (err) {
        state = 'open';
        // The update fails with the reason; the review stays open for another resolution.
        throw err instanceof ApplicationFailure ? err : ApplicationFailure.nonRetryable(rootMessage(err), 'ResolutionFailed');
      }
    },
    { validator: (r) => validate(r, state) },
  );
  await condition(() => state === 'resolved' && allHandlersFinished());
  upsertSearchAttributes([{ key: SyncOutcome, value: 'resolved' }]);
  return outcome!;
}

async function resolve(input: ConflictReviewInput, resolution: ConflictResolution): Promise<ConflictReviewResult> {
  const runId = ids.resolution(input.conflictId);
  await bookkeeping().beginRun({ runId, kind: 'resolution', details: { conflictId: input.conflictId, table: input.table, legacyId: input.legacyId } });
  const { value } = await recordedRun(runId, async () => {
    const resolved = await operatorSteps.applyResolution({ conflictId: input.conflictId, table: input.table, resolution, runId });
    if (resolved.writeBack && resolved.newId !== null) await writeBackBatch(core, `${runId}#1`, runId, { orderIds: [resolved.newId] });
    return resolved;
  });
  return { conflictId: input.conflictId, runId, resolution, values: value.values ?? {}, writtenBack: value.writeBack };
}
