import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundle } from '@temporalio/worker';
import { loadLegacyEnv } from '../../src/config/env';
import { ids, SCHEDULE_ID } from '../../src/shared';
import { createOrUpdateSchedule } from '../../src/temporal/schedule';
import { workflowsBundle } from '../support/workflowBundle';
import { devServerEnv, gate, until, withStubWorkers, type CoreStubs } from '../support/workflowEnv';

/**
 * The cycle's schedule as src/temporal/schedule.ts creates it. The time-skipping test server
 * has no schedules, so these run on the temporal CLI's dev server (in memory, no other
 * service), on real time: the schedule fires every second.
 */

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  [env, bundle] = await Promise.all([devServerEnv(), workflowsBundle()]);
});
afterAll(async () => env?.teardown());

// The schedule needs only Temporal's settings; Redis is named because the settings require it, never reached.
const legacyEnv = (taskQueue: string) => loadLegacyEnv({ TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, REDIS_URL: 'redis://127.0.0.1:1' });

it('creates the cycle schedule with overlap SKIP, the configured interval and a ten-minute catch-up window', async () => {
  const handle = await createOrUpdateSchedule(env.client, legacyEnv('sched-test-1'), {});
  try {
    const d = await handle.describe();
    expect(d.scheduleId).toBe(SCHEDULE_ID);
    expect(d.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 10 * 60_000 });
    expect(d.spec.intervals).toEqual([expect.objectContaining({ every: 5 * 60_000 })]);
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'SyncCycleWorkflow', workflowId: ids.scheduledCycle, taskQueue: 'sched-test-1' });
  } finally {
    await handle.delete();
  }
});

it('skips the cycles that come due while the previous one still runs', async () => {
  const release = gate();
  let cycles = 0;
  const core: CoreStubs = {
    // Each cycle's first step: the first one waits until the test lets it go on.
    async planCycle() {
      cycles++;
      await release.promise;
      return { levels: [], parents: {}, drafts: [], probes: [] };
    },
    async beginCycleRuns() {
      return {};
    },
  };
  const result = await withStubWorkers(env, bundle, { core }, async (taskQueue) => {
    const handle = await createOrUpdateSchedule(env.client, legacyEnv(taskQueue), {}, { intervalSeconds: 1, scheduleId: `cycle-every-second-${taskQueue}` });
    try {
      let d = await handle.describe();
      await until(async () => (d = await handle.describe()).info.numActionsSkippedOverlap >= 2, 'two cycles to be skipped', 30_000);
      // Only one cycle was started, and it still runs; none waits to start after it (as BUFFER_ONE would keep one).
      expect(cycles).toBe(1);
      expect(Number(d.raw.info?.bufferSize ?? 0)).toBe(0);
      expect(d.info.runningActions).toHaveLength(1);
      expect(d.info.recentActions).toHaveLength(1);
      const running = d.info.runningActions[0].workflow.workflowId;
      expect(running.startsWith(`${ids.scheduledCycle}-`)).toBe(true);
      await handle.pause('test over');
      release.open();
      const summary = await env.client.workflow.getHandle(running).result();
      d = await handle.describe();
      return { summary, skipped: d.info.numActionsSkippedOverlap };
    } finally {
      await handle.delete();
    }
  });
  expect(result.summary).toEqual({ cycleId: expect.stringMatching(/^sync-cycle\/scheduled-/), tables: [] });
  expect(result.skipped).toBeGreaterThanOrEqual(2);
});
