import { WriteBackWorkflow } from '../../workflows';
import { timeSkippingSuite, withStubWorkers, type CoreStubs, type LegacyStubs } from '../support/workflowEnv';
import { batchResult, planOf, scheduledActivities, summaryOf } from './stubs';

/**
 * WriteBackWorkflow's own logic, on stubbed activities: the outbox drained batch by batch,
 * stopping when a plan says nothing more waits, with no empty round after a full last batch;
 * a plan recorded before plans said so still goes on after a full batch.
 */

const suite = timeSkippingSuite();

let n = 0;

/** A write-back of an outbox of `waiting` entries in batches of 10; the log of the activities it ran, and its run id. */
async function drain(waiting: number, opts: { sayMore: boolean }): Promise<{ log: string[]; runId: string }> {
  const log: string[] = [];
  let left = waiting;
  const core: CoreStubs = {
    async planWriteBack(input) {
      const count = Math.min(left, input.batchSize!);
      left -= count;
      log.push(`plan ${count}`);
      return (opts.sayMore ? { count, writes: count, more: left > 0 } : { count, writes: count }) as { count: number; writes: number; more: boolean };
    },
    async recordWriteBack() {
      log.push('record');
      return batchResult(10, { ts: null, id: 0 });
    },
    async finishRun(input) {
      return summaryOf(input.runId, input.status, input.error);
    },
  };
  const legacy: LegacyStubs = {
    async writeLegacy() {
      log.push('write');
      return { written: 10, skipped: 0 };
    },
  };
  const runId = `table-sync/deliveries/new-to-legacy/sync-cycle/write-back-test/${++n}`;
  await withStubWorkers(suite.env, suite.bundle, { core, legacy }, (taskQueue) =>
    suite.env.client.workflow.execute(WriteBackWorkflow, { taskQueue, workflowId: runId, args: [{ plan: planOf({ runId, direction: 'new-to-legacy', pages: false }) }] }),
  );
  return { log, runId };
}

it('drains the outbox batch by batch and stops when the plan says nothing more waits', async () => {
  expect((await drain(25, { sayMore: true })).log).toEqual(['plan 10', 'write', 'record', 'plan 10', 'write', 'record', 'plan 5', 'write', 'record']);
  // A full last batch: no round that finds the outbox empty.
  expect((await drain(20, { sayMore: true })).log).toEqual(['plan 10', 'write', 'record', 'plan 10', 'write', 'record']);
});

it('goes on after a full batch whose plan does not say whether more waits (recorded before plans said so)', async () => {
  expect((await drain(20, { sayMore: false })).log).toEqual(['plan 10', 'write', 'record', 'plan 10', 'write', 'record', 'plan 0']);
  expect((await drain(15, { sayMore: false })).log).toEqual(['plan 10', 'write', 'record', 'plan 5', 'write', 'record']);
});

it('plans and records each batch as local activities of the core worker; only the legacy write goes through a task queue', async () => {
  const { log, runId } = await drain(15, { sayMore: true });
  expect(log).toEqual(['plan 10', 'write', 'record', 'plan 5', 'write', 'record']);
  expect(await scheduledActivities(suite.env, runId)).toEqual(['writeLegacy', 'writeLegacy']);
});
