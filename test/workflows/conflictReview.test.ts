import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import { resolveConflictUpdate, reviewQuery } from '../../src/messages';
import type { ConflictResolution } from '../../src/shared';
import { ConflictReviewWorkflow } from '../../workflows';
import { gate, timeSkippingSuite, until, withStubWorkers, type CoreStubs, type LegacyStubs } from '../support/workflowEnv';
import { batchResult, summaryOf } from './stubs';

/**
 * ConflictReviewWorkflow waits for an operator's Update `resolve`: the validator refuses a
 * bad one before it is accepted, a resolution whose run fails leaves the review open, a good
 * one goes through both sides and completes the review.
 */

const suite = timeSkippingSuite();

it('refuses an invalid resolution, stays open after a failed one, completes on a good one', async () => {
  const log: string[] = [];
  const applying = gate();
  let applyCalls = 0;
  const core: CoreStubs = {
    async beginRun(input) {
      log.push(`beginRun ${input.runId}`);
    },
    async applyResolution(input) {
      applyCalls++;
      log.push(`applyResolution ${input.resolution.take}`);
      if (input.resolution.set?.no_such_column !== undefined) throw ApplicationFailure.nonRetryable('orders has no column no_such_column', 'ResolutionError');
      // The good resolution waits here, so the test can try another one meanwhile.
      await applying.promise;
      return { values: { notes: '請放門口' }, writeBack: true, newId: 77 } as Awaited<ReturnType<NonNullable<CoreStubs['applyResolution']>>>;
    },
    async planWriteBack(input) {
      log.push(`planWriteBack ${JSON.stringify(input.orderIds)}`);
      return { count: 1, writes: 1, more: false };
    },
    async recordWriteBack(input) {
      log.push(`recordWriteBack ${input.legacyWritten}`);
      return batchResult(1, { ts: null, id: 0 });
    },
    async finishRun(input) {
      log.push(`finishRun ${input.status}`);
      return summaryOf(input.runId, input.status, input.error);
    },
  };
  const legacy: LegacyStubs = {
    async writeLegacy() {
      log.push('writeLegacy');
      return { written: 1, skipped: 0 };
    },
  };
  const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as WorkflowUpdateFailedError);

  await withStubWorkers(suite.env, suite.bundle, { core, legacy }, async (taskQueue) => {
    const review = await suite.env.client.workflow.start(ConflictReviewWorkflow, { taskQueue, workflowId: 'conflict-review/7', args: [{ conflictId: 7, table: 'deliveries', legacyId: 42 }] });
    const resolve = (r: ConflictResolution) => review.executeUpdate(resolveConflictUpdate, { args: [r] });

    // Rejected by the validator: never accepted, so nothing ran and the history does not show it.
    const invalid = await failure(resolve({ take: 'sideways' as ConflictResolution['take'] }));
    expect(invalid).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(rootOf(invalid)).toBe('take must be one of legacy, new, merged');
    const notAnObject = await failure(resolve({ take: 'new', set: [] as unknown as ConflictResolution['set'] }));
    expect(rootOf(notAnObject)).toBe('set must be an object of column values');
    expect(applyCalls).toBe(0);
    expect(await updatesInHistory(review.workflowId)).toBe(0);

    // Accepted, but its run fails: the update fails with the reason and the review stays open.
    const failed = await failure(resolve({ take: 'new', set: { no_such_column: 1 } }));
    expect(failed).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(rootOf(failed)).toBe('orders has no column no_such_column');
    expect(await review.query(reviewQuery)).toEqual({ conflictId: 7, state: 'open' });
    expect((await review.describe()).status.name).toBe('RUNNING');
    expect(log).toEqual(['beginRun conflict-resolution/7', 'applyResolution new', 'finishRun failed']);

    // A good one; while it runs, a second resolution is refused.
    log.length = 0;
    const good = resolve({ take: 'legacy', by: 'office' });
    await until(() => log.includes('applyResolution legacy'), 'the resolution to start');
    expect(await review.query(reviewQuery)).toEqual({ conflictId: 7, state: 'resolving' });
    expect(rootOf(await failure(resolve({ take: 'new' })))).toBe('the conflict is resolving, not open');
    applying.open();
    const outcome = await good;
    expect(outcome).toEqual({ conflictId: 7, runId: 'conflict-resolution/7', resolution: { take: 'legacy', by: 'office' }, values: { notes: '請放門口' }, writtenBack: true });
    expect(log).toEqual(['beginRun conflict-resolution/7', 'applyResolution legacy', 'planWriteBack [77]', 'writeLegacy', 'recordWriteBack true', 'finishRun completed']);
    expect(await review.result()).toEqual(outcome);
    expect(await updatesInHistory(review.workflowId)).toBe(2);
  });
});

/** The innermost message of a failure chain. */
function rootOf(err: unknown): string {
  let e = err as { message: string; cause?: unknown };
  while (e.cause) e = e.cause as { message: string; cause?: unknown };
  return e.message;
}

/** Updates accepted into the run's history. */
async function updatesInHistory(workflowId: string): Promise<number> {
  const history = await suite.env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
}
