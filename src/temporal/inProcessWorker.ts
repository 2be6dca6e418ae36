import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { LegacyEnv } from '../config/env';

/** In-process workers say so in their identity: they leave with their command. */
const ONE_OFF = 'luckygas-sync-one-off';
/** A live worker long-polls again at least this often; an older poller is gone. */
const POLL_FRESH_MS = 75_000;

export interface Poller {
  identity: string;
  lastAccess: string;
}

/**
 * Workers that stay and poll a task queue now. Temporal lists a poller for a while after it
 * left, so the one-off workers of earlier commands and stale pollers do not count.
 */
export async function livePollers(client: Client, namespace: string, taskQueue: string, type: 'workflow' | 'activity' = 'activity'): Promise<Poller[]> {
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: type === 'workflow' ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const now = Date.now();
  return (res.pollers ?? [])
    .map((p) => ({ identity: p.identity ?? '', seen: Number(p.lastAccessTime?.seconds ?? 0) * 1000 }))
    .filter((p) => !p.identity.startsWith(ONE_OFF) && now - p.seen < POLL_FRESH_MS)
    .map((p) => ({ identity: p.identity, lastAccess: new Date(p.seen).toISOString() }));
}

/**
 * Waits for `work`; when no worker serves a task queue (the core's or the legacy agent's), runs
 * one in this process for as long as the work takes, for that queue, so a one-off command
 * works without a worker deployment.
 */
export async function withWorkerIfNone<T>(client: Client, env: LegacyEnv, work: () => Promise<T>, log: (line: string) => void): Promise<T> {
  const coreServed = (await livePollers(client, env.TEMPORAL_NAMESPACE, env.TEMPORAL_TASK_QUEUE, 'workflow')).length > 0;
  const legacyServed = (await livePollers(client, env.TEMPORAL_NAMESPACE, env.TEMPORAL_LEGACY_TASK_QUEUE)).length > 0;
  if (coreServed && legacyServed) return work();
  const role = coreServed ? 'legacy' : legacyServed ? 'core' : 'all';
  const queues = role === 'all' ? `${env.TEMPORAL_TASK_QUEUE} and ${env.TEMPORAL_LEGACY_TASK_QUEUE}` : role === 'core' ? env.TEMPORAL_TASK_QUEUE : env.TEMPORAL_LEGACY_TASK_QUEUE;
  log(`no worker polls task queue ${queues}: running one in this process`);
  // The worker SDK is loaded only when a worker is started here (commands start faster without it).
  const { createWorkers } = await import('./worker');
  const workers = await createWorkers(env, role, { identity: `${ONE_OFF}-${process.pid}@${hostname()}` });
  try {
    return await workers.runUntil(work());
  } finally {
    await workers.close();
  }
}
