import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { AppEnv } from '../config/env';
import { createSyncWorker } from './worker';

/** In-process workers say so in their identity: they leave with their command. */
const ONE_OFF = 'luckygas-sync-one-off';
/** A live worker long-polls again at least this often; an older poller is gone. */
const POLL_FRESH_MS = 75_000;

export type TaskType = 'workflow' | 'activity';

/**
 * Workers that stay and poll `taskQueue` for `type` tasks now. Temporal lists a poller for a
 * while after it left, so the one-off workers of commands and stale pollers do not count.
 */
export async function livePollers(client: Client, namespace: string, taskQueue: string, type: TaskType): Promise<number> {
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: type === 'workflow' ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const now = Date.now();
  return (res.pollers ?? []).filter((p) => {
    const seen = Number(p.lastAccessTime?.seconds ?? 0) * 1000;
    return !(p.identity ?? '').startsWith(ONE_OFF) && now - seen < POLL_FRESH_MS;
  }).length;
}

/** Whether a worker that stays polls the task queue's workflow tasks now. */
export async function hasPollers(client: Client, env: AppEnv): Promise<boolean> {
  return (await livePollers(client, env.TEMPORAL_NAMESPACE, env.TEMPORAL_TASK_QUEUE, 'workflow')) > 0;
}

/**
 * Waits for `work`; when no worker polls the task queue, runs one in this process for as
 * long as the work takes, so a one-off command works without a worker deployment.
 */
export async function withWorkerIfNone<T>(client: Client, env: AppEnv, work: () => Promise<T>, log: (line: string) => void): Promise<T> {
  if (await hasPollers(client, env)) return work();
  log(`no worker polls task queue ${env.TEMPORAL_TASK_QUEUE}: running one in this process`);
  const sync = await createSyncWorker(env, {}, { identity: `${ONE_OFF}-${process.pid}@${hostname()}` });
  try {
    return await sync.worker.runUntil(work());
  } finally {
    await sync.close();
  }
}
