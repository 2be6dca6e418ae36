import type { Client } from '@temporalio/client';
import type { AppEnv } from '../config/env';
import { connectClient } from '../temporal/connection';
import { livePollers } from '../temporal/inProcessWorker';

type TaskType = 'workflow' | 'activity';
import { withTimeout } from './health';

/**
 * What the monitor asks Temporal at scrape time: how many workers poll each task queue. The
 * core workers serve the sync queue's workflow and activity tasks; the legacy agent serves only
 * the activities that open the legacy file, on a queue of its own.
 */

export interface WatchedQueue {
  taskQueue: string;
  taskTypes: TaskType[];
}

export interface PollerCount {
  taskQueue: string;
  taskType: TaskType;
  pollers: number;
}

/** null: Temporal could not be asked at this scrape. */
export type PollerSample = PollerCount[] | null;

export interface TemporalProbe {
  sample(): Promise<PollerSample>;
  close(): Promise<void>;
}

export function watchedQueues(env: Pick<AppEnv, 'TEMPORAL_TASK_QUEUE' | 'TEMPORAL_LEGACY_TASK_QUEUE'>): WatchedQueue[] {
  return [
    { taskQueue: env.TEMPORAL_TASK_QUEUE, taskTypes: ['workflow', 'activity'] },
    { taskQueue: env.TEMPORAL_LEGACY_TASK_QUEUE, taskTypes: ['activity'] },
  ];
}

/**
 * Connects lazily and keeps the connection (gRPC reconnects by itself after Temporal comes
 * back). A scrape waits at most `timeoutMs` for Temporal: an unreachable server makes the
 * sample null, never a failed or slow /metrics; a connection attempt still under way is
 * reused by the next scrape.
 */
export function temporalProbe(env: AppEnv, timeoutMs = 3_000): TemporalProbe {
  const queues = watchedQueues(env);
  let client: Promise<Client> | null = null;
  let closed = false;
  const connected = (): Promise<Client> => {
    client ??= connectClient(env).catch((err: unknown) => {
      client = null;
      throw err;
    });
    return client;
  };
  return {
    async sample() {
      if (closed) return null;
      try {
        return await withTimeout(
          connected().then((c) =>
            c.connection.withDeadline(Date.now() + timeoutMs, () =>
              Promise.all(
                queues.flatMap((q) =>
                  q.taskTypes.map(async (taskType) => ({ taskQueue: q.taskQueue, taskType, pollers: (await livePollers(c, env.TEMPORAL_NAMESPACE, q.taskQueue, taskType)).length })),
                ),
              ),
            ),
          ),
          timeoutMs,
          'Temporal',
        );
      } catch {
        return null;
      }
    },
    async close() {
      closed = true;
      const pending = client;
      client = null;
      await pending?.then((c) => c.connection.close()).catch(() => {});
    },
  };
}
