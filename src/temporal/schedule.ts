import { ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';
import type { AppEnv } from '../config/env';
import { SCHEDULE_ID } from './ids';

/** The cycle's schedule: SYNC_CRON, or every SYNC_INTERVAL_MINUTES; a cycle never overlaps the last. */
export function scheduleSpec(env: AppEnv): ScheduleSpec {
  return env.SYNC_CRON ? { cronExpressions: [env.SYNC_CRON] } : { intervals: [{ every: `${env.SYNC_INTERVAL_MINUTES} minutes` }] };
}

export async function createOrUpdateSchedule(
  client: Client,
  env: AppEnv,
  { intervalSeconds, scheduleId = SCHEDULE_ID }: { intervalSeconds?: number; scheduleId?: string } = {},
) {
  const spec: ScheduleSpec = intervalSeconds ? { intervals: [{ every: `${intervalSeconds} seconds` }] } : scheduleSpec(env);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'SyncCycleWorkflow',
    workflowId: 'sync-cycle/scheduled',
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    args: [{}],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const };
  const handle = client.schedule.getHandle(scheduleId);
  try {
    await handle.describe();
    await handle.update((prev) => ({ ...prev, spec, action, policies }));
    return handle;
  } catch (err) {
    if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
  }
  return client.schedule.create({ scheduleId, spec, action, policies, memo: { purpose: 'luckygas legacy ↔ new sync cycle' } });
}
