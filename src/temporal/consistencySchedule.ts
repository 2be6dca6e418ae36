import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { AppEnv } from '../config/env';

/** The consistency check's own schedule: daily at 03:00 Asia/Taipei (19:00 UTC), never overlapping the last check. */
export const consistencyScheduleId = 'luckygas-consistency-check';
export const CONSISTENCY_CRON_UTC = '0 19 * * *';

export async function createOrUpdateConsistencySchedule(client: Client, env: AppEnv) {
  const spec = { cronExpressions: [CONSISTENCY_CRON_UTC] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'ConsistencyCheckWorkflow',
    // Temporal appends the scheduled time: consistency-check/scheduled-<time>.
    workflowId: 'consistency-check/scheduled',
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    args: [{}],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' as const };
  const handle = client.schedule.getHandle(consistencyScheduleId);
  try {
    await handle.describe();
    await handle.update((prev) => ({ ...prev, spec, action, policies }));
    return handle;
  } catch (err) {
    if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
  }
  return client.schedule.create({
    scheduleId: consistencyScheduleId,
    spec,
    action,
    policies,
    memo: { purpose: 'luckygas daily consistency check, legacy vs PostgreSQL (03:00 Asia/Taipei)' },
  });
}
