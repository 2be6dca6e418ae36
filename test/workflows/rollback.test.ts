import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { RollbackPageResult, RollbackSelection } from '../../src/shared';
import { RollbackWorkflow } from '../../workflows';
import { timeSkippingSuite, withStubWorkers, type CoreStubs } from '../support/workflowEnv';
import { summaryOf } from './stubs';

/**
 * RollbackWorkflow waits for a quiet sync before it restores anything: waitForQuietSync fails
 * (retryably) while a cycle it concerns runs, every 10 s for about 10 minutes. On the
 * time-skipping server those minutes pass in a moment.
 */

const suite = timeSkippingSuite();

const selection: RollbackSelection = { runIds: ['sync-cycle/test/1'], since: null, tables: null, maxJournalId: 10 };
const lastPage: RollbackPageResult = {
  rows: 2,
  restored: 2,
  alreadyRestored: 0,
  conflicts: 0,
  conflictSample: [],
  restoredBySide: { new: 2, legacy: 0 },
  requeuedOrders: 0,
  reread: { clients: 2 },
  reopened: 0,
  legacyBatch: null,
  before: null,
  done: true,
};

/** The rollback's activities; waitForQuietSync reports busy `busyAttempts` times. */
function rollbackStubs(busyAttempts: number) {
  const log: string[] = [];
  /** Server time of each waitForQuietSync attempt. */
  const attempts: number[] = [];
  const core: CoreStubs = {
    async pauseSyncSchedule() {
      log.push('pause');
      return 'paused';
    },
    async resumeSyncSchedule(input) {
      log.push(`resume: ${input.note}`);
      return 'resumed';
    },
    async waitForQuietSync() {
      attempts.push(await suite.env.currentTimeMs());
      log.push('waitForQuietSync');
      if (attempts.length <= busyAttempts) throw ApplicationFailure.retryable('sync runs still running: sync-cycle/test/1 (the schedule is paused; waiting for them to finish)', 'SyncStillRunning');
      return { staleRuns: [] };
    },
    async beginRollback() {
      log.push('beginRollback');
      return { selection, entries: 2, rows: 2 };
    },
    async rollbackPage() {
      log.push('rollbackPage');
      return lastPage;
    },
    async finishRollbackCounts() {},
    async reopenedReviews() {
      return [];
    },
    async finishRun(input) {
      log.push(`finishRun ${input.status}`);
      return summaryOf(input.runId, input.status, input.error);
    },
  };
  return { core, log, attempts };
}

it('waits while a cycle it concerns runs (waitForQuietSync failing retryably), then restores', async () => {
  const s = rollbackStubs(3);
  const started = Date.now();
  const result = await withStubWorkers(suite.env, suite.bundle, s, (taskQueue) =>
    suite.env.client.workflow.execute(RollbackWorkflow, { taskQueue, workflowId: 'rollback/test/1', args: [{ runId: 'sync-cycle/test/1' }] }),
  );
  expect(s.log).toEqual(['pause', 'waitForQuietSync', 'waitForQuietSync', 'waitForQuietSync', 'waitForQuietSync', 'beginRollback', 'rollbackPage', 'finishRun completed']);
  // Retried every 10 s of workflow time, without waiting those seconds.
  const gaps = s.attempts.slice(1).map((t, i) => t - s.attempts[i]);
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(10_000);
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(result).toMatchObject({ rollbackId: 'rollback/test/1', restored: 2, reread: { clients: 2 }, schedule: { paused: 'paused', resumed: 'no (not asked)' } });
});

it('gives up after some 10 minutes of a busy sync, restores nothing and resumes the schedule it paused', async () => {
  const s = rollbackStubs(Infinity);
  const started = Date.now();
  const err = await withStubWorkers(suite.env, suite.bundle, s, (taskQueue) =>
    suite.env.client.workflow.execute(RollbackWorkflow, { taskQueue, workflowId: 'rollback/test/2', args: [{ runId: 'sync-cycle/test/1' }] }).then(
      () => null,
      (e: unknown) => e,
    ),
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(s.attempts).toHaveLength(60);
  expect(s.attempts.at(-1)! - s.attempts[0]).toBeGreaterThanOrEqual(59 * 10_000);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(s.log).not.toContain('beginRollback');
  expect(s.log.at(-1)).toBe('resume: rollback rollback/test/2 failed before restoring anything');
});
