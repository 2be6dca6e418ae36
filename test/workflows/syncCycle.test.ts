import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { CycleDraft, CycleRun } from '../../activities/core';
import type { RunDraft } from '../../src/plan';
import { ids, type CycleSummary, type Direction, type RunSummary } from '../../src/shared';
import { SyncCycleWorkflow } from '../../workflows';
import { timeSkippingSuite, withStubWorkers, type CoreStubs, type LegacyStubs } from '../support/workflowEnv';
import { batchResult, distinct, planOf, sleep, summaryOf } from './stubs';

/**
 * SyncCycleWorkflow's own logic, with real child workflows (TableSyncWorkflow,
 * WriteBackWorkflow) on stubbed activities: tables in dependency levels, both directions of a
 * table in order, and what a failed child does to the rest of the cycle.
 */

const suite = timeSkippingSuite();

let n = 0;

/**
 * A cycle over the given levels; deliveries (when there) also writes back. Each table's
 * legacy → new run applies one page; `fail` names tables whose apply fails for good, `slow`
 * how long a table's apply takes.
 */
function cycleCase(levels: string[][], parents: Record<string, string[]>, opts: { fail?: string[]; slow?: Record<string, number> } = {}) {
  const cycleId = `sync-cycle/test/${++n}`;
  const log: string[] = [];
  const calls: Record<string, unknown[]> = {};
  const note = (name: string, input: unknown) => (calls[name] ??= []).push(input);
  const directions = (table: string): Direction[] => (table === 'deliveries' ? ['legacy-to-new', 'new-to-legacy'] : ['legacy-to-new']);
  const drafts: RunDraft[] = levels.flat().flatMap((table) =>
    directions(table).map((direction) => ({
      start: { table, direction, kind: 'table' as const, workflowId: ids.tableSync(table, direction, cycleId), parentId: cycleId },
      mode: 'timestamp' as const,
      cursor: { ts: '', id: 0 },
      batchSize: 10,
      load: false,
      catchup: false,
      queues: [],
    })),
  );
  const planOfDraft = (d: RunDraft) =>
    planOf({ runId: d.start.workflowId, table: d.start.table, direction: d.start.direction, first: d.start.direction === 'legacy-to-new' ? { count: 1, next: { ts: 't', id: 1 }, done: true } : null });
  const tableOf = (runId: string) => runId.split('/')[1];

  const core: CoreStubs = {
    async planCycle(input) {
      note('planCycle', input);
      return { levels, parents, drafts, probes: [] } satisfies CycleDraft;
    },
    async beginCycleRuns() {
      const runs: Record<string, CycleRun> = {};
      for (const d of drafts) runs[`${d.start.table} ${d.start.direction}`] = d.start.direction === 'new-to-legacy' ? { after: d } : { plan: planOfDraft(d) };
      return runs;
    },
    async applyBatch(input) {
      const table = tableOf(input.runId);
      log.push(`apply ${table} start`);
      await sleep(opts.slow?.[table] ?? 50);
      if (opts.fail?.includes(table)) {
        log.push(`apply ${table} failed`);
        throw ApplicationFailure.nonRetryable(`legacy table ${table} has no column district`, 'LegacyFileError');
      }
      log.push(`apply ${table} end`);
      return batchResult(1, { ts: 't', id: 1 });
    },
    async finishRun(input) {
      log.push(`finish ${tableOf(input.runId)} ${input.runId.split('/')[2]} ${input.status}`);
      return summaryOf(input.runId, input.status, input.error);
    },
    async recordSkipped(input) {
      note('recordSkipped', input);
      for (const r of input.runs) log.push(`skipped ${r.table} ${r.direction}`);
      return input.runs.map((r) => summaryOf(r.workflowId, 'skipped', r.reason));
    },
    async beginWriteBack(draft) {
      log.push('beginWriteBack');
      return { plan: planOf({ runId: draft.start.workflowId, direction: 'new-to-legacy' }) };
    },
    async planWriteBack(input) {
      note('planWriteBack', input);
      return { count: 0, writes: 0, more: false };
    },
  };
  const legacy: LegacyStubs = {
    async probeTables() {
      throw new Error('not called: the draft has no probes');
    },
  };
  const run = () =>
    withStubWorkers(suite.env, suite.bundle, { core, legacy }, (taskQueue) =>
      suite.env.client.workflow.execute(SyncCycleWorkflow, { taskQueue, workflowId: cycleId, args: [{}] }).then(
        (summary): CycleSummary | WorkflowFailedError => summary,
        (err: WorkflowFailedError) => err,
      ),
    );
  return { cycleId, log, calls, run };
}

const at = (log: string[], entry: string) => {
  const i = log.indexOf(entry);
  if (i < 0) throw new Error(`'${entry}' is not in the log:\n${log.join('\n')}`);
  return i;
};

const PARENTS = { clients: [], drivers: [], deliveries: ['clients', 'drivers'] };

it('runs a level\'s tables side by side, the next level after them, and a table\'s write-back after its legacy → new', async () => {
  const c = cycleCase([['clients', 'drivers'], ['deliveries']], PARENTS, { slow: { clients: 150, drivers: 150 } });
  const result = await c.run();
  expect(result).not.toBeInstanceOf(WorkflowFailedError);
  const { tables } = result as CycleSummary;
  expect(tables.map((t: RunSummary) => [t.table, t.direction, t.status])).toEqual([
    ['clients', 'legacy-to-new', 'completed'],
    ['drivers', 'legacy-to-new', 'completed'],
    ['deliveries', 'legacy-to-new', 'completed'],
    ['deliveries', 'new-to-legacy', 'completed'],
  ]);
  const { log } = c;
  // Level 0 side by side: both started before either ended.
  expect(Math.max(at(log, 'apply clients start'), at(log, 'apply drivers start'))).toBeLessThan(Math.min(at(log, 'apply clients end'), at(log, 'apply drivers end')));
  // Level 1 after both parents' runs ended.
  expect(at(log, 'apply deliveries start')).toBeGreaterThan(Math.max(at(log, 'finish clients legacy-to-new completed'), at(log, 'finish drivers legacy-to-new completed')));
  // The write-back is decided after legacy → new of its table.
  expect(at(log, 'beginWriteBack')).toBeGreaterThan(at(log, 'finish deliveries legacy-to-new completed'));
  expect(at(log, 'finish deliveries new-to-legacy completed')).toBeGreaterThan(at(log, 'beginWriteBack'));
  expect(c.calls.recordSkipped).toBeUndefined();
});

it('skips a table whose parent table failed, with the reason, and fails only after every run recorded its end', async () => {
  // drivers takes longer than clients takes to fail: the cycle must wait for it.
  const c = cycleCase([['clients', 'drivers'], ['deliveries']], PARENTS, { fail: ['clients'], slow: { clients: 20, drivers: 600 } });
  const err = await c.run();
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe('TableSyncFailed');
  expect(cause.message).toBe('clients: legacy table clients has no column district');
  const reason = 'not started: parent table clients failed in this cycle';
  expect((cause.details?.[0] as CycleSummary).tables.map((t) => [t.table, t.direction, t.status, t.reason])).toEqual([
    ['drivers', 'legacy-to-new', 'completed', undefined],
    ['deliveries', 'legacy-to-new', 'skipped', reason],
    ['deliveries', 'new-to-legacy', 'skipped', reason],
  ]);
  const { log } = c;
  expect(log).not.toContain('apply deliveries start');
  expect(log).not.toContain('beginWriteBack');
  // The failed run recorded its end; the slower sibling ran to its end before the cycle failed.
  expect(at(log, 'finish clients legacy-to-new failed')).toBeLessThan(at(log, 'finish drivers legacy-to-new completed'));
  expect(at(log, 'skipped deliveries legacy-to-new')).toBeGreaterThan(at(log, 'finish drivers legacy-to-new completed'));
});

it('skips the write-back of a table whose legacy → new failed', async () => {
  const c = cycleCase([['deliveries']], { deliveries: [] }, { fail: ['deliveries'] });
  const err = await c.run();
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.message).toBe('deliveries: legacy table deliveries has no column district');
  expect(distinct(c.calls.recordSkipped)).toEqual([
    { runs: [expect.objectContaining({ table: 'deliveries', direction: 'new-to-legacy', workflowId: ids.tableSync('deliveries', 'new-to-legacy', c.cycleId), reason: 'not started: deliveries legacy-to-new failed in this cycle' })] },
  ]);
  expect(c.log).not.toContain('beginWriteBack');
  expect(c.calls.planWriteBack).toBeUndefined();
  expect((cause.details?.[0] as CycleSummary).tables.map((t) => [t.direction, t.status])).toEqual([['new-to-legacy', 'skipped']]);
});
