import { ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';
import type { AppEnv } from '../config/env';
import { CONSISTENCY_SCHEDULE_ID, SCHEDULE_ID } from './ids';

/** The cycle's schedule: SYNC_CRON, or every SYNC_INTERVAL_MINUTES. */
export function scheduleSpec(env: AppEnv): ScheduleSpec {
  return env.SYNC_CRON ? { cronExpressions: [env.SYNC_CRON] } : { intervals: [{ every: `${env.SYNC_INTERVAL_MINUTES} minutes` }] };
}

/** Creates a schedule, or brings an existing one to this spec and action; a run never overlaps the last. */
async function upsertSchedule(client: Client, scheduleId: string, spec: ScheduleSpec, action: ScheduleOptionsAction, memo: string) {
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const };
  const handle = client.schedule.getHandle(scheduleId);
  try {
    await handle.describe();
    await handle.update((prev) => ({ ...prev, spec, action, policies }));
    return handle;
  } catch (err) {
    if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
  }
  return client.schedule.create({ scheduleId, spec, action, policies, memo: { purpose: memo } });
}

export async function createOrUpdateSchedule(
  client: Client,
  env: AppEnv,
  { intervalSeconds, scheduleId = SCHEDULE_ID }: { intervalSeconds?: number; scheduleId?: string } = {},
) {
  const spec: ScheduleSpec = intervalSeconds ? { intervals: [{ every: `${intervalSeconds} seconds` }] } : scheduleSpec(env);
  // Temporal appends the scheduled time to the workflow id: sync-cycle/scheduled-<time>.
  const action = { type: 'startWorkflow' as const, workflowType: 'SyncCycleWorkflow', workflowId: 'sync-cycle/scheduled', taskQueue: env.TEMPORAL_TASK_QUEUE, args: [{}] };
  return upsertSchedule(client, scheduleId, spec, action, 'luckygas legacy ↔ new sync cycle');
}

/** The consistency check's own schedule: daily at 03:00 Asia/Taipei (19:00 UTC). */
export const CONSISTENCY_CRON_UTC = '0 19 * * *';

export async function createOrUpdateConsistencySchedule(client: Client, env: AppEnv) {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'ConsistencyCheckWorkflow',
    workflowId: 'consistency-check/scheduled',
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    args: [{}],
  };
  return upsertSchedule(client, CONSISTENCY_SCHEDULE_ID, { cronExpressions: [CONSISTENCY_CRON_UTC] }, action, 'luckygas daily consistency check (03:00 Asia/Taipei)');
}
