import { DefaultLogger, Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { closeActivityDeps, createActivities, createActivityDeps, type ActivityDeps } from '../../activities';
import type { AppEnv } from '../config/env';
import { connectWorker } from './connection';

/** A worker for the sync's task queue, with its activities' connections. */
export interface SyncWorker {
  worker: Worker;
  deps: ActivityDeps;
  connection: NativeConnection;
  close(): Promise<void>;
}

let runtimeInstalled = false;

export async function createSyncWorker(env: AppEnv, overrides: Partial<ActivityDeps> = {}): Promise<SyncWorker> {
  if (!runtimeInstalled) {
    // The SDK's own logs go to stderr at warn and above: pino carries the sync's logs.
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* already installed by an earlier worker in this process */
    }
    runtimeInstalled = true;
  }
  const connection = await connectWorker(env);
  const deps = createActivityDeps(env, overrides);
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    workflowsPath: require.resolve('../../workflows'),
    activities: createActivities(deps),
    maxConcurrentActivityTaskExecutions: 8,
  });
  return {
    worker,
    deps,
    connection,
    async close() {
      await closeActivityDeps(deps);
      await connection.close();
    },
  };
}
