import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { CycleDraft, CycleRun } from '../../activities/core';
import type { RunDraft } from '../../src/plan';
import { ids, PARENT_NOT_SYNCED, type CycleSummary, type Direction, type RunSummary } from '../../src/shared';
import { SyncCycleWorkflow } from '../../workflows';
import { devServerEnv, timeSkippingSuite, until, withStubWorkers, type CoreStubs, type LegacyStubs } from '../support/workflowEnv';
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
function cycleCase(levels: string[][], parents: Record<string, string[]>, opts: { fail?: string[]; slow?: Record<string, number>; loads?: string[] } = {}) {
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
    opts.loads?.includes(d.start.table) && d.start.direction === 'legacy-to-new'
      ? planOf({ runId: d.start.workflowId, table: d.start.table, direction: d.start.direction, load: { pageSize: 10, watermark: null, rows: 1, empty: true }, pages: false })
      : planOf({ runId: d.start.workflowId, table: d.start.table, direction: d.start.direction, first: d.start.direction === 'legacy-to-new' ? { count: 1, next: { ts: 't', id: 1 }, done: true } : null });
  const tableOf = (runId: string) => runId.split('/')[1];
  /** How a run ended, once it has: "completed", "failed", ... */
  const ended = (runId: string) => log.find((e) => e.startsWith(`finish ${tableOf(runId)} ${runId.split('/')[2]} `))?.split(' ')[3];

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
    /** As the real load: it waits for its parents' runs to end, and does not load when one did not complete. */
    async loadTable(input) {
      const table = tableOf(input.runId);
      note('loadTable', input);
      log.push(`load ${table} start`);
      const parentRuns = input.parentRuns ?? [];
      while (parentRuns.some((r) => !ended(r))) await sleep(10);
      const unsynced = parentRuns.filter((r) => ended(r) !== 'completed');
      if (unsynced.length > 0) throw ApplicationFailure.nonRetryable(`not loaded: parent table ${unsynced.map((r) => `${tableOf(r)} ${ended(r)}`).join(', ')} in this cycle`, PARENT_NOT_SYNCED);
      log.push(`load ${table} end`);
      return batchResult(1, { ts: null, id: 1 });
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
    async captureTable() {
      return { pages: 1, rows: 1 };
    },
  };
  /** The cycle's result; `settle`: what to wait for before the workers stop (activities still under way). */
  const run = (env = suite.env, settle?: () => Promise<void>) =>
    withStubWorkers(env, suite.bundle, { core, legacy }, async (taskQueue) => {
      const result = await env.client.workflow.execute(SyncCycleWorkflow, { taskQueue, workflowId: cycleId, args: [{}] }).then(
        (summary): CycleSummary | WorkflowFailedError => summary,
        (err: WorkflowFailedError) => err,
      );
      await settle?.();
      return result;
    });
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

describe('a load into an empty table', () => {
  it('starts with its parents\' level, and its load is told which runs to wait for', async () => {
    const c = cycleCase([['clients', 'drivers'], ['deliveries']], PARENTS, { slow: { clients: 300, drivers: 300 }, loads: ['deliveries'] });
    const result = await c.run();
    expect(result).not.toBeInstanceOf(WorkflowFailedError);
    expect((result as CycleSummary).tables.map((t: RunSummary) => [t.table, t.direction, t.status])).toEqual([
      ['clients', 'legacy-to-new', 'completed'],
      ['drivers', 'legacy-to-new', 'completed'],
      ['deliveries', 'legacy-to-new', 'completed'],
      ['deliveries', 'new-to-legacy', 'completed'],
    ]);
    const { log } = c;
    // Started while its parents' pages were being applied.
    expect(at(log, 'load deliveries start')).toBeLessThan(Math.min(at(log, 'apply clients end'), at(log, 'apply drivers end')));
    expect(c.calls.loadTable).toEqual([
      expect.objectContaining({
        table: 'deliveries',
        runId: ids.tableSync('deliveries', 'legacy-to-new', c.cycleId),
        parentRuns: [ids.tableSync('clients', 'legacy-to-new', c.cycleId), ids.tableSync('drivers', 'legacy-to-new', c.cycleId)],
      }),
    ]);
    expect(at(log, 'beginWriteBack')).toBeGreaterThan(at(log, 'finish deliveries legacy-to-new completed'));
    expect(c.calls.recordSkipped).toBeUndefined();
  });

  it('ends skipped when a parent table failed, its write-back too, and the cycle fails for the parent alone', async () => {
    const c = cycleCase([['clients', 'drivers'], ['deliveries']], PARENTS, { fail: ['clients'], slow: { clients: 20, drivers: 300 }, loads: ['deliveries'] });
    const err = await c.run();
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('TableSyncFailed');
    expect(cause.message).toBe('clients: legacy table clients has no column district');
    expect((cause.details?.[0] as CycleSummary).tables.map((t) => [t.table, t.direction, t.status, t.reason])).toEqual([
      ['drivers', 'legacy-to-new', 'completed', undefined],
      ['deliveries', 'legacy-to-new', 'skipped', 'not loaded: parent table clients failed in this cycle'],
      ['deliveries', 'new-to-legacy', 'skipped', 'not started: deliveries legacy-to-new was skipped in this cycle'],
    ]);
    const { log } = c;
    expect(log).toContain('load deliveries start');
    expect(log).not.toContain('load deliveries end');
    expect(log).not.toContain('beginWriteBack');
    // The run recorded its own end, skipped; the cycle did not record it again.
    expect(log).toContain('finish deliveries legacy-to-new skipped');
    expect(log).not.toContain('skipped deliveries legacy-to-new');
  });

  it('ends skipped when a parent\'s run was terminated, which recorded no end of its own', async () => {
    const c = cycleCase([['clients', 'drivers'], ['deliveries']], PARENTS, { slow: { clients: 2000, drivers: 20 }, loads: ['deliveries'] });
    const clients = ids.tableSync('clients', 'legacy-to-new', c.cycleId);
    // The test server does not answer a termination while the run's activity is under way: a dev server does.
    const dev = await devServerEnv();
    let err: unknown;
    try {
      const terminating = (async () => {
        while (!c.log.includes('apply clients start') || !c.log.includes('load deliveries start')) await sleep(20);
        await dev.client.workflow.getHandle(clients).terminate('stopped by hand');
      })();
      // The terminated run's activity is not told, and goes on to its end.
      err = await c.run(dev, () => until(() => c.log.includes('apply clients end'), 'the clients\' apply to end'));
      await terminating;
    } finally {
      await dev.teardown();
    }
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.message).toMatch(/^clients: /);
    expect((cause.details?.[0] as CycleSummary).tables.map((t) => [t.table, t.direction, t.status, t.reason])).toEqual([
      ['drivers', 'legacy-to-new', 'completed', undefined],
      ['deliveries', 'legacy-to-new', 'skipped', 'not loaded: parent table clients failed in this cycle'],
      ['deliveries', 'new-to-legacy', 'skipped', 'not started: deliveries legacy-to-new was skipped in this cycle'],
    ]);
    // The cycle recorded the terminated run's end, which the load was waiting for.
    expect(at(c.log, 'finish clients legacy-to-new failed')).toBeLessThan(at(c.log, 'apply clients end'));
  });

  it('is not started early when a parent is not in the level before it', async () => {
    const c = cycleCase([['clients'], ['drivers'], ['deliveries']], PARENTS, { slow: { clients: 100, drivers: 100 }, loads: ['deliveries'] });
    const result = await c.run();
    expect(result).not.toBeInstanceOf(WorkflowFailedError);
    expect(at(c.log, 'load deliveries start')).toBeGreaterThan(at(c.log, 'finish drivers legacy-to-new completed'));
    expect(c.calls.loadTable).toEqual([expect.not.objectContaining({ parentRuns: expect.anything() })]);
  });
});
