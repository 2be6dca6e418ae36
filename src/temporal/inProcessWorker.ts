import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { AppEnv } from '../config/env';
import { createSyncWorker } from './worker';

/** Whether some worker polls the task queue now. */
export async function hasPollers(client: Client, env: AppEnv): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: { name: env.TEMPORAL_TASK_QUEUE },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (res.pollers?.length ?? 0) > 0;
}

/**
 * Waits for `work`; when no worker polls the task queue, runs one in this process for as
 * long as the work takes, so a one-off command works without a worker deployment.
 */
export async function withWorkerIfNone<T>(client: Client, env: AppEnv, work: () => Promise<T>, log: (line: string) => void): Promise<T> {
  if (await hasPollers(client, env)) return work();
  log(`no worker polls task queue ${env.TEMPORAL_TASK_QUEUE}: running one in this process`);
  const sync = await createSyncWorker(env);
  try {
    return await sync.worker.runUntil(work());
  } finally {
    await sync.close();
  }
}
