import { CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { progressQuery } from '../../src/messages';
import { BackfillWorkflow, TableSyncWorkflow } from '../../workflows';
import { LOAD_ATTEMPTS } from '../../workflows/tableSync';
import { gate, timeSkippingEnv, timeSkippingSuite, until, withStubWorkers } from '../support/workflowEnv';
import { cursorOf, distinct, FakeTable, planOf, range, scheduledActivities, sleep, tableStubs } from './stubs';

/**
 * TableSyncWorkflow's own logic, its activities stubbed over a table in memory: the load's
 * lanes and page ends, a load into an empty table in one transaction, the pages' fetch-ahead, a vanished claim, and continue-as-new with
 * the progress query answering across it.
 */

const suite = timeSkippingSuite();

let n = 0;
const workflowId = () => `table-sync-test/${++n}`;

describe('load (plan.load: the table by id ranges)', () => {
  it('runs two pages side by side, applies every row once, asks for page ends before the known ones run out and never past the end', async () => {
    const table = new FakeTable(95);
    const s = tableStubs(table, { applyMs: 30 });
    const watermark = { ts: '2030-01-02 00:00:00', id: 95 };
    const plan = planOf({ load: { pageSize: 10, watermark, rows: 95 }, pages: false });
    const id = workflowId();
    const [summary, progress] = await withStubWorkers(suite.env, suite.bundle, s, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(TableSyncWorkflow, { taskQueue, workflowId: id, args: [{ plan }] });
      return [await handle.result(), await handle.query(progressQuery)] as const;
    });
    expect(summary).toMatchObject({ runId: plan.runId, status: 'completed' });
    expect(s.appliedIds().sort((a, b) => a - b)).toEqual(range(1, 95));
    // Ten pages of ten ids (the last one open-ended), each its own batch key.
    expect(s.applied.map((a) => a.batchKey).sort()).toEqual(range(0, 9).map((i) => `${plan.runId}#${i}`).sort());
    expect(s.maxInFlight()).toBe(2);
    // Eight ends at a time; the next eight asked while pages were still queued, none after the end (null) was seen.
    const asked = s.log.filter((l) => l.startsWith('pageEnds'));
    expect(asked).toEqual(['pageEnds after 0', 'pageEnds after 80']);
    // In the order the workflow scheduled them (which of two scheduled activities a worker starts first is its own affair).
    const scheduled = await scheduledActivities(suite.env, id);
    const nth = (name: string, k: number) => scheduled.map((a, i) => (a === name ? i : -1)).filter((i) => i >= 0)[k];
    expect(nth('pageEnds', 1)).toBeLessThan(nth('captureIdRange', 7));
    expect(distinct(s.calls.moveWatermark)).toEqual([{ table: 'deliveries', after: { load: watermark } }]);
    expect(progress).toMatchObject({ phase: 'done', batches: 10, read: 95, total: 95 });
  });

  it('goes on when the open-ended last page comes back full: rows were added meanwhile', async () => {
    const table = new FakeTable(95);
    let grown = false;
    const s = tableStubs(table);
    const pageEnds = s.legacy.pageEnds!;
    s.legacy.pageEnds = async (input) => {
      const ends = await pageEnds(input);
      // The legacy application inserts 30 rows after the end was found.
      if (ends.includes(null) && !grown) {
        table.add(30);
        grown = true;
      }
      return ends;
    };
    await withStubWorkers(suite.env, suite.bundle, s, (taskQueue) =>
      suite.env.client.workflow.execute(TableSyncWorkflow, { taskQueue, workflowId: workflowId(), args: [{ plan: planOf({ load: { pageSize: 10, watermark: null, rows: 95 }, pages: false }) }] }),
    );
    expect(s.appliedIds().sort((a, b) => a - b)).toEqual(range(1, 125));
    // The open-ended page read 91..100; the load went on after 100.
    expect(s.log.filter((l) => l.startsWith('pageEnds'))).toEqual(['pageEnds after 0', 'pageEnds after 80', 'pageEnds after 100']);
    expect(s.calls.moveWatermark).toBeUndefined(); // no watermark noted (trigger mode): nothing to move
  });
});

describe('load into an empty table (plan.load.empty: one transaction, the legacy agent streaming)', () => {
  const emptyPlan = () => planOf({ load: { pageSize: 10, watermark: { ts: '2030-01-02 00:00:00', id: 95 }, rows: 95, empty: true }, pages: false });
  const start = (s: ReturnType<typeof tableStubs>, plan: ReturnType<typeof planOf>, on: TestWorkflowEnvironment = suite.env) =>
    withStubWorkers(on, suite.bundle, s, async (taskQueue) => {
      const handle = await on.client.workflow.start(TableSyncWorkflow, { taskQueue, workflowId: workflowId(), args: [{ plan }] });
      const outcome = await handle.result().then(
        (summary) => ({ summary, err: null }),
        (err: unknown) => ({ summary: null, err }),
      );
      return { ...outcome, progress: outcome.err ? null : await handle.query(progressQuery) };
    });
  /**
   * Until the server has recorded the end of the load's stream: the workflow cancels the stream
   * when the load ends, and cancelling an activity the time-skipping server still sees running
   * (cancelling one not yet started, or one whose completion is on its way) stops its time skipping.
   */
  const streamEnded = async (on: TestWorkflowEnvironment = suite.env) => {
    const { workflowId } = Context.current().info.workflowExecution!;
    const pending = async () => (await on.client.workflow.getHandle(workflowId).describe()).raw.pendingActivities ?? [];
    await until(async () => !(await pending()).some((a) => a.activityType?.name === 'captureTable'), 'the stream ended');
  };
  /** A load that waits for its cancellation, as the real one notices it at its next heartbeat. */
  const untilCancelled = async (): Promise<never> => {
    const ctx = Context.current();
    for (;;) {
      ctx.heartbeat();
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('the load was cancelled');
      await sleep(20);
    }
  };

  it('loads the table with one loadTable over the stream captureTable fills, and no page', async () => {
    const s = tableStubs(new FakeTable(95));
    const plan = emptyPlan();
    const { summary, progress } = await start(s, plan);
    expect(summary).toMatchObject({ runId: plan.runId, status: 'completed' });
    expect(s.calls.loadTable).toEqual([{ table: 'deliveries', runId: plan.runId, batchKey: `${plan.runId}#0`, stream: `${plan.runId}#0/1` }]);
    expect(s.calls.captureTable).toEqual([{ table: 'deliveries', stream: `${plan.runId}#0/1`, pageSize: 10, window: expect.any(Number) }]);
    expect(s.appliedIds()).toEqual(range(1, 95));
    expect(s.calls.captureIdRange).toBeUndefined();
    expect(distinct(s.calls.moveWatermark)).toEqual([{ table: 'deliveries', after: { load: plan.load!.watermark } }]);
    expect(progress).toMatchObject({ phase: 'done', batches: 1, read: 95 });
  });

  it('loads page by page when loadTable finds the table no longer empty (null)', async () => {
    const s = tableStubs(new FakeTable(95));
    s.core.loadTable = async () => {
      await streamEnded();
      return null;
    };
    const { summary } = await start(s, emptyPlan());
    expect(summary).toMatchObject({ status: 'completed' });
    expect(s.appliedIds().sort((a, b) => a - b)).toEqual(range(1, 95));
    expect(s.calls.captureIdRange).toHaveLength(10);
  });

  it('fails the run when the stream fails, the load cancelled', async () => {
    const s = tableStubs(new FakeTable(95));
    s.legacy.captureTable = async () => {
      throw ApplicationFailure.nonRetryable('the legacy file is gone', 'LegacyFile');
    };
    s.core.loadTable = untilCancelled;
    const plan = emptyPlan();
    const { err } = await start(s, plan);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.cause).toMatchObject({ type: 'LegacyFile', message: 'the legacy file is gone' });
    expect(distinct(s.calls.finishRun)).toEqual([{ runId: plan.runId, status: 'failed', error: 'the legacy file is gone' }]);
    expect(s.calls.captureIdRange).toBeUndefined();
  });

  it(`starts a failed load again, on a new stream and the same batch key, up to ${LOAD_ATTEMPTS} times`, async () => {
    // A test server of its own: the tests above cancel activities, after which the shared one
    // no longer skips time, and the pauses between attempts would take real time.
    const own = await timeSkippingEnv();
    try {
      // Each load fails once its stream has ended.
      const fail = async () => {
        await streamEnded(own);
        throw ApplicationFailure.retryable('connection reset', 'Error');
      };
      const s = tableStubs(new FakeTable(95));
      const loadTable = s.core.loadTable!;
      let attempts = 0;
      s.core.loadTable = async (input) => (++attempts < LOAD_ATTEMPTS ? fail() : loadTable(input));
      const plan = emptyPlan();
      const { summary } = await start(s, plan, own);
      expect(summary).toMatchObject({ status: 'completed' });
      expect((s.calls.captureTable as { stream: string }[]).map((c) => c.stream)).toEqual(range(1, LOAD_ATTEMPTS).map((i) => `${plan.runId}#0/${i}`));
      expect(attempts).toBe(LOAD_ATTEMPTS);
      expect(s.calls.loadTable).toEqual([expect.objectContaining({ batchKey: `${plan.runId}#0`, stream: `${plan.runId}#0/${LOAD_ATTEMPTS}` })]);
      expect(s.appliedIds()).toEqual(range(1, 95));

      const failing = tableStubs(new FakeTable(95));
      failing.core.loadTable = fail;
      const { err } = await start(failing, emptyPlan(), own);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause?.cause).toMatchObject({ message: 'connection reset' });
      expect(failing.calls.captureTable).toHaveLength(LOAD_ATTEMPTS);
      expect(failing.calls.captureIdRange).toBeUndefined();
    } finally {
      await own.teardown();
    }
  });
});

describe('pages (the table from its cursor)', () => {
  /** 14 rows in pages of 3; the first page already read by the cycle's probe, as planCycle hands it over. */
  function pagesCase(opts: Parameters<typeof tableStubs>[1] = {}) {
    const table = new FakeTable(14);
    const s = tableStubs(table, opts);
    const plan = planOf({ batchSize: 3, first: { count: 3, next: cursorOf(table.rows[2]), done: false } });
    const prime = async () => {
      await s.legacy.capturePage!({ table: 'deliveries', batchKey: `${plan.runId}#0`, cursor: plan.cursor, batchSize: 3 });
      s.log.length = 0;
      delete s.calls.capturePage;
    };
    return { table, s, plan, prime };
  }

  it('reads the next page while the current one is applied, starting from the page the probe read', async () => {
    const { s, plan, prime } = pagesCase({ applyMs: 40 });
    await prime();
    const id = workflowId();
    const summary = await withStubWorkers(suite.env, suite.bundle, s, (taskQueue) => suite.env.client.workflow.execute(TableSyncWorkflow, { taskQueue, workflowId: id, args: [{ plan }] }));
    expect(summary.status).toBe('completed');
    expect(s.appliedIds()).toEqual(range(1, 14));
    // Pages applied beside a capture are activities; the last page, with nothing beside it, a local activity.
    expect((await scheduledActivities(suite.env, id)).filter((a) => a === 'applyBatch')).toHaveLength(4);
    expect(s.calls.applyBatch).toHaveLength(5);
    // The probe's page is not read again; each later page is read while the one before it is applied.
    expect((s.calls.capturePage as { batchKey: string }[]).map((c) => c.batchKey)).toEqual([1, 2, 3, 4].map((i) => `${plan.runId}#${i}`));
    for (const i of [1, 2, 3, 4]) expect(s.log.indexOf(`capture #${i} start`)).toBeLessThan(s.log.indexOf(`apply #${i - 1} end`));
    // Each apply carries the cursor its page ends at (the watermark it commits).
    expect((s.calls.applyBatch as { cursor: unknown }[]).map((c) => c.cursor)).toEqual([3, 6, 9, 12, 14].map((id) => ({ ts: `2030-01-01 ${String(id).padStart(8, '0')}`, id })));
  });

  /** The pages' run, with the claim of batch `no` gone the first time it is applied. */
  async function losingClaimOnce(no: number) {
    let lost = false;
    const { s, plan, prime } = pagesCase({
      loseClaim: (key) => {
        if (key !== `${plan.runId}#${no}` || lost) return false;
        lost = true;
        return true;
      },
    });
    await prime();
    const summary = await withStubWorkers(suite.env, suite.bundle, s, (taskQueue) => suite.env.client.workflow.execute(TableSyncWorkflow, { taskQueue, workflowId: workflowId(), args: [{ plan }] }));
    return { s, summary };
  }

  it('captures a batch again when its claim vanished (ClaimMissing), and the batch read ahead with it', async () => {
    const { s, summary } = await losingClaimOnce(2);
    expect(summary.status).toBe('completed');
    // Every row once, in order, though batch 2 was applied twice (the first time its claim was gone).
    expect(s.appliedIds()).toEqual(range(1, 14));
    const captures = (s.calls.capturePage as { batchKey: string; cursor: unknown }[]).map((c) => c.batchKey.split('#')[1]);
    expect(captures).toEqual(['1', '2', '3', '2', '3', '4']);
    const twice = (s.calls.capturePage as { batchKey: string; cursor: unknown }[]).filter((c) => c.batchKey.endsWith('#2'));
    expect(twice[0].cursor).toEqual(twice[1].cursor);
  });

  it('captures the last page again when its claim vanished while it was applied as a local activity', async () => {
    const { s, summary } = await losingClaimOnce(4);
    expect(summary.status).toBe('completed');
    expect(s.appliedIds()).toEqual(range(1, 14));
    expect((s.calls.capturePage as { batchKey: string }[]).map((c) => c.batchKey.split('#')[1])).toEqual(['1', '2', '3', '4', '4']);
  });

  it('fails the run, recording why, when a batch\'s claim vanishes five times in a row', async () => {
    const { s, plan, prime } = pagesCase({ loseClaim: (key) => key.endsWith('#1') });
    await prime();
    const err = await withStubWorkers(suite.env, suite.bundle, s, (taskQueue) =>
      suite.env.client.workflow.execute(TableSyncWorkflow, { taskQueue, workflowId: workflowId(), args: [{ plan }] }).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'ClaimMissing', message: `batch ${plan.runId}#1: its rows vanished from Redis 5 times` });
    expect((s.calls.applyBatch as { batchKey: string }[]).filter((c) => c.batchKey.endsWith('#1'))).toHaveLength(5);
    expect(distinct(s.calls.finishRun)).toEqual([{ runId: plan.runId, status: 'failed', error: `batch ${plan.runId}#1: its rows vanished from Redis 5 times` }]);
  });
});

describe('continue-as-new', () => {
  it('hands a backfill over every 100 batches, and the progress query answers across the hand-overs', async () => {
    const table = new FakeTable(250);
    const blocked = gate();
    let waiting = 0;
    const s = tableStubs(table, {
      // Batches from 150 on wait, so the test can ask the progress of the second run mid-way.
      beforeApply: async (key) => {
        if (Number(key.split('#')[1]) < 150) return;
        waiting++;
        await blocked.promise;
      },
    });
    const watermark = cursorOf(table.rows[249]);
    s.legacy.tableEdges = async () => ({ rows: 250, newest: watermark, queuePosition: null });
    s.core.beginTableSync = async ({ start }) =>
      planOf({ runId: start.workflowId, table: start.table, kind: 'backfill', batchSize: 1, load: { pageSize: 1, watermark, rows: 250 }, pages: false });
    const id = 'backfill/drivers';
    const { first, midway, describedRun, summary } = await withStubWorkers(suite.env, suite.bundle, s, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(BackfillWorkflow, { taskQueue, workflowId: id, args: [{ table: 'drivers' }] });
      await until(() => waiting === 2, 'both lanes to wait at batch 150');
      // The handle follows the chain of runs: the query reaches the run now running.
      const midway = await handle.query(progressQuery);
      const describedRun = (await handle.describe()).runId;
      blocked.open();
      return { first: handle.firstExecutionRunId, midway, describedRun, summary: await handle.result() };
    });
    expect(midway).toMatchObject({ phase: 'load', batches: 150, read: 150, total: 250 });
    expect(describedRun).not.toBe(first);
    expect(summary).toMatchObject({ runId: id, status: 'completed' });
    // Every page once: 100 batches in each of the first two runs, the rest in the third (the
    // last one open-ended after id 250, empty).
    expect(s.appliedIds().sort((a, b) => a - b)).toEqual(range(1, 250));
    const runs = [...new Set(s.applied.map((a) => a.runId))];
    expect(runs).toHaveLength(3);
    expect(runs[0]).toBe(first);
    const batchesOf = (run: string) => s.applied.filter((a) => a.runId === run).map((a) => Number(a.batchKey.split('#')[1])).sort((a, b) => a - b);
    expect(runs.map(batchesOf)).toEqual([range(0, 99), range(100, 199), range(200, 250)]);
    // The watermark moves once, when the whole table is in.
    expect(distinct(s.calls.moveWatermark)).toEqual([{ table: 'drivers', after: { load: watermark } }]);
    expect(distinct(s.calls.finishRun)).toEqual([{ runId: id, status: 'completed' }]);
  });
});
