import { existsSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { DefaultLogger, Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { createCoreActivities } from '../../activities/core';
import { closeDeps, createCoreDeps, createLegacyDeps, type CoreDeps, type LegacyDeps } from '../../activities/deps';
import { createLegacyActivities } from '../../activities/legacy';
import { startPageThreads } from '../apply/loadThreads';
import type { AppEnv, LegacyEnv } from '../config/env';
import type { Target, WorkerRole } from '../shared';
import { connectWorker } from './connection';
import { activityInterceptors } from './interceptors';
import { targetOf } from './target';

/**
 * The workers of one process, by role:
 * - core: workflows and every activity that does not open the legacy file, on the sync task
 *   queue (TEMPORAL_TASK_QUEUE); as many as you like, anywhere; needs PostgreSQL, Redis;
 * - legacy: the legacy agent, the only process that opens the legacy file, on the legacy task
 *   queue (TEMPORAL_LEGACY_TASK_QUEUE); one, beside the file; needs Redis only;
 * - all: both, for one-host installs.
 * Each worker's identity says what it serves, which `status` and `doctor` show.
 */


export interface SyncWorkers {
  role: WorkerRole;
  workers: Worker[];
  core: CoreDeps | null;
  legacy: LegacyDeps | null;
  connection: NativeConnection;
  target: Target;
  /** Runs until shut down (SIGINT/SIGTERM, or shutdown()). */
  run(): Promise<void>;
  /** Runs while `work` is pending, then shuts down. */
  runUntil<T>(work: Promise<T>): Promise<T>;
  shutdown(): void;
  close(): Promise<void>;
}

/**
 * The workflows as bundled at build time (scripts/bundle-workflows.js), when the worker runs
 * from dist/ and the bundle is newer than every compiled workflow file; else bundled now.
 */
function workflowCode(): { code: { workflowBundle: { codePath: string } } | { workflowsPath: string }; workflowModules: string[] } {
  const workflowsPath = require.resolve('../../workflows');
  const bundle = path.join(__dirname, '..', '..', 'workflow-bundle.js');
  const fresh = () => {
    const dir = path.dirname(workflowsPath);
    const newest = Math.max(...readdirSync(dir).map((f) => statSync(path.join(dir, f)).mtimeMs));
    return statSync(bundle).mtimeMs >= newest;
  };
  // A prebuilt bundle has the workflow interceptors built in (scripts/bundle-workflows.js).
  if (existsSync(bundle) && __dirname.split(path.sep).includes('dist') && fresh()) return { code: { workflowBundle: { codePath: bundle } }, workflowModules: [] };
  return { code: { workflowsPath }, workflowModules: [require.resolve('../../workflows/interceptors')] };
}

/**
 * The threads a worker starts after this (the SDK's workflow thread, a load's page threads)
 * get a young generation of at most 1 MB per semi-space instead of V8's 16: their objects die
 * young (a page is prepared row by row), and V8 otherwise grows it to its largest, per thread.
 * The flag is the process's, and V8 takes it over a thread's own resourceLimits. 1M load, core
 * worker peak: 4 MB 250-255 MB, 2 MB 230-238, the load's rate and the cycles' times within the
 * runs' spread; 10M load: 2 MB 251.7 MB, 1 MB 236.4, for ~4 % more of the worker's CPU (the
 * rate the same). The main thread's is set only by a flag at node's start (the image's
 * NODE_OPTIONS, docs/runbook.md).
 */
const THREAD_SEMI_SPACE_MB = 1;

let runtimeInstalled = false;

/** The SDK's log lines, but for its note that a legacy agent (an activity-only worker) runs no workflows: so it is meant. */
const quietLog: ConstructorParameters<typeof DefaultLogger>[1] = (entry) => {
  if (entry.message.startsWith('No workflows registered')) return;
  process.stderr.write(`${new Date().toISOString()} [${entry.level}] ${entry.message}${entry.meta ? ` ${JSON.stringify(entry.meta)}` : ''}\n`);
};

export interface WorkerOptions {
  /** Identity prefix (the CLI's one-off workers mark themselves). */
  identity?: string;
  /** A workflow bundle built beforehand with the workflow interceptors in it (the tests build one for all their workers). */
  workflowBundle?: { codePath: string };
  core?: Partial<CoreDeps>;
  legacy?: Partial<LegacyDeps>;
}

export async function createWorkers(env: LegacyEnv, role: WorkerRole, opts: WorkerOptions = {}): Promise<SyncWorkers> {
  // A worker's batches are garbage within a second, and V8 by default lets the heap grow to
  // several times what is live before a full collection. Read by V8 at each collection, so
  // setting it here takes effect (HEAP_GROWING_PERCENT: memory against CPU).
  v8.setFlagsFromString(`--heap-growing-percent=${env.HEAP_GROWING_PERCENT}`);
  v8.setFlagsFromString(`--max-semi-space-size=${THREAD_SEMI_SPACE_MB}`);
  if (!runtimeInstalled) {
    // The SDK's own logs go to stderr at warn and above: pino carries the sync's logs.
    try {
      Runtime.install({ logger: new DefaultLogger('WARN', quietLog) });
    } catch {
      /* already installed by an earlier worker in this process */
    }
    runtimeInstalled = true;
  }
  const target = targetOf(env, role);
  const identity = `${opts.identity ?? `${process.pid}@${hostname()}`} ${role}${target.legacy ? ` legacy=${target.legacy}` : ''}${target.database ? ` db=${target.database}` : ''}`;
  const connection = await connectWorker(env);
  let core: CoreDeps | null = null;
  let legacy: LegacyDeps | null = null;
  const workers: Worker[] = [];
  try {
    if (role !== 'legacy') {
      if (!env.DATABASE_URL) throw Object.assign(new Error('DATABASE_URL is not set: a core worker needs PostgreSQL'), { name: 'ConfigError' });
      core = createCoreDeps(env as AppEnv, opts.core);
      // Ready before the first load asks for them (the first cycle's first table waited ~0.2 s for its thread).
      startPageThreads(core.env.LOAD_THREADS);
      const { code, workflowModules } = opts.workflowBundle ? { code: { workflowBundle: opts.workflowBundle }, workflowModules: [] } : workflowCode();
      workers.push(
        await Worker.create({
          identity,
          connection,
          namespace: env.TEMPORAL_NAMESPACE,
          taskQueue: env.TEMPORAL_TASK_QUEUE,
          ...code,
          activities: createCoreActivities(core),
          interceptors: { activity: [activityInterceptors({ side: 'core', worker: identity, target, databaseUrl: env.DATABASE_URL })], workflowModules },
          maxConcurrentActivityTaskExecutions: 8,
          // A load's heartbeats carry how far it got: sent every 5 s, instead of every 24 (0.8 of its heartbeat timeout).
          maxHeartbeatThrottleInterval: '5 seconds',
        }),
      );
    }
    if (role !== 'core') {
      legacy = createLegacyDeps(env, opts.legacy);
      workers.push(
        await Worker.create({
          identity,
          connection,
          namespace: env.TEMPORAL_NAMESPACE,
          taskQueue: env.TEMPORAL_LEGACY_TASK_QUEUE,
          activities: createLegacyActivities(legacy),
          interceptors: { activity: [activityInterceptors({ side: 'legacy', worker: identity, target })] },
          // One legacy file, one writer at a time is what SQLite serves well; reads are short.
          maxConcurrentActivityTaskExecutions: 4,
        }),
      );
    }
  } catch (err) {
    if (core) await closeDeps(core);
    if (legacy) await closeDeps(legacy);
    await connection.close();
    throw err;
  }
  return {
    role,
    workers,
    core,
    legacy,
    connection,
    target,
    async run() {
      await Promise.all(workers.map((w) => w.run()));
    },
    async runUntil<T>(work: Promise<T>) {
      // Every worker shut down before the outcome is given back: the connection closes after them.
      const settled = await Promise.allSettled(workers.map((w) => w.runUntil(work)));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      return (settled[0] as PromiseFulfilledResult<T>).value;
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
    async close() {
      if (core) await closeDeps(core);
      if (legacy) await closeDeps(legacy);
      await connection.close();
    },
  };
}

