import { ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';
import type { LegacyEnv } from '../config/env';
import { CONSISTENCY_SCHEDULE_ID, ids, LEGACY_QUEUE_HEADER, SCHEDULE_ID, TARGET_HEADER, type Target } from '../shared';
import { ConsistencyCheckWorkflow, SyncCycleWorkflow } from '../../workflows';

/**
 * The schedules: the sync cycle (SYNC_CRON, or every SYNC_INTERVAL_MINUTES) and the daily
 * consistency check. A run never overlaps the previous one (SKIP); missed runs within ten
 * minutes are caught up.
 */

export function scheduleSpec(env: LegacyEnv): ScheduleSpec {
  return env.SYNC_CRON ? { cronExpressions: [env.SYNC_CRON] } : { intervals: [{ every: `${env.SYNC_INTERVAL_MINUTES} minutes` }] };
}

export const SCHEDULE_POLICIES = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const };

/**
 * Creates a schedule, or brings an existing one to this spec and action. The work's target
 * travels in the action's header, set at creation: a schedule made for another target is made
 * again (paused as it was), never left to start work for the wrong file or database.
 */
async function upsertSchedule(client: Client, scheduleId: string, spec: ScheduleSpec, action: ScheduleOptionsAction, memo: string, target: Target, legacyQueue: string) {
  const handle = client.schedule.getHandle(scheduleId);
  try {
    const d = await handle.describe();
    const fields = d.raw.schedule?.action?.startWorkflow?.header?.fields ?? {};
    const header = (name: string) => (fields[name]?.data ? JSON.stringify(JSON.parse(Buffer.from(fields[name].data!).toString('utf8'))) : null);
    if (header(TARGET_HEADER) === JSON.stringify(target) && header(LEGACY_QUEUE_HEADER) === JSON.stringify(legacyQueue)) {
      await handle.update((prev) => ({ ...prev, spec, action, policies: SCHEDULE_POLICIES }));
      return handle;
    }
    await handle.delete();
    return client.schedule.create({ scheduleId, spec, action, policies: SCHEDULE_POLICIES, memo: { purpose: memo }, state: { paused: d.state.paused, note: d.state.note } });
  } catch (err) {
    if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
  }
  return client.schedule.create({ scheduleId, spec, action, policies: SCHEDULE_POLICIES, memo: { purpose: memo } });
}

export async function createOrUpdateSchedule(client: Client, env: LegacyEnv, target: Target, { intervalSeconds, scheduleId = SCHEDULE_ID }: { intervalSeconds?: number; scheduleId?: string } = {}) {
  const spec: ScheduleSpec = intervalSeconds ? { intervals: [{ every: `${intervalSeconds} seconds` }] } : scheduleSpec(env);
  // Temporal appends the scheduled time to the workflow id: sync-cycle/scheduled-<time>.
  const action = { type: 'startWorkflow' as const, workflowType: SyncCycleWorkflow, workflowId: ids.scheduledCycle, taskQueue: env.TEMPORAL_TASK_QUEUE, args: [{}] };
  return upsertSchedule(client, scheduleId, spec, action, 'luckygas legacy ↔ new sync cycle', target, env.TEMPORAL_LEGACY_TASK_QUEUE);
}

/** The consistency check's own schedule: daily at 03:00 Asia/Taipei (19:00 UTC). */
export const CONSISTENCY_CRON_UTC = '0 19 * * *';

export async function createOrUpdateConsistencySchedule(client: Client, env: LegacyEnv, target: Target) {
  const action = { type: 'startWorkflow' as const, workflowType: ConsistencyCheckWorkflow, workflowId: ids.scheduledCheck, taskQueue: env.TEMPORAL_TASK_QUEUE, args: [{}] };
  return upsertSchedule(client, CONSISTENCY_SCHEDULE_ID, { cronExpressions: [CONSISTENCY_CRON_UTC] }, action, 'luckygas daily consistency check (03:00 Asia/Taipei)', target, env.TEMPORAL_LEGACY_TASK_QUEUE);
}

/** Pauses the sync cycle's schedule (running cycles finish); a missing schedule is not an error. */
export async function pauseSchedule(client: Client, note: string): Promise<'paused' | 'already-paused' | 'not-found'> {
  const handle = client.schedule.getHandle(SCHEDULE_ID);
  try {
    const d = await handle.describe();
    if (d.state.paused) return 'already-paused';
    await handle.pause(note);
    return 'paused';
  } catch (err) {
    if ((err as Error).name === 'ScheduleNotFoundError') return 'not-found';
    throw err;
  }
}

export async function resumeSchedule(client: Client, note: string): Promise<'resumed' | 'not-found'> {
  const handle = client.schedule.getHandle(SCHEDULE_ID);
  try {
    await handle.unpause(note);
    return 'resumed';
  } catch (err) {
    if ((err as Error).name === 'ScheduleNotFoundError') return 'not-found';
    throw err;
  }
}
