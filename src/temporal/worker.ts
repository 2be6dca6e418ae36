import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
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

/**
 * The workflows as bundled at build time (scripts/bundle-workflows.js), when the worker runs
 * from dist/ and the bundle is newer than every compiled workflow file; else bundled now.
 */
function workflowCode(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const workflowsPath = require.resolve('../../workflows');
  const bundle = path.join(__dirname, '..', '..', 'workflow-bundle.js');
  if (!existsSync(bundle) || !__dirname.split(path.sep).includes('dist')) return { workflowsPath };
  const dir = path.dirname(workflowsPath);
  const newest = Math.max(...readdirSync(dir).map((f) => statSync(path.join(dir, f)).mtimeMs));
  return statSync(bundle).mtimeMs >= newest ? { workflowBundle: { codePath: bundle } } : { workflowsPath };
}

let runtimeInstalled = false;

/**
 * A worker's batches are garbage within a second, and V8 by default lets the heap grow to
 * several times what is live before a full collection (some 300 MB more RSS during a backfill
 * for some 50 MB live). Growing by at most a quarter of what is live keeps the worker under
 * 300 MB for some 10 % more of its CPU. Read by V8 at each collection, so setting it here
 * takes effect.
 */
const HEAP_GROWING_PERCENT = 25;

export async function createSyncWorker(env: AppEnv, overrides: Partial<ActivityDeps> = {}, opts: { identity?: string } = {}): Promise<SyncWorker> {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
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
  let deps: ActivityDeps;
  try {
    deps = createActivityDeps(env, overrides);
  } catch (err) {
    await connection.close();
    throw err;
  }
  const worker = await Worker.create({
    ...(opts.identity ? { identity: opts.identity } : {}),
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    ...workflowCode(),
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
