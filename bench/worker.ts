import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../src/paths';
import type { WorkerRole } from '../src/shared';
import { cpuSeconds, memory, RssSampler, type WorkerGroup } from './measure';

/**
 * A worker under test, as a child process of its own (`luckygas-sync worker --role R`), so
 * that its memory and CPU time are its alone and not the bench's.
 */

/** How the results name each role's process. */
export const ROLE_GROUP: Record<WorkerRole, WorkerGroup> = { all: 'worker', core: 'core worker', legacy: 'legacy agent' };

/** What the image's runtime stage sets for every process beside the defaults (Dockerfile): workers run here as they run there. */
export const IMAGE_ENV = { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=8', HEAP_GROWING_PERCENT: '100' };

export interface WorkerEnv {
  LEGACY_DB_PATH: string;
  DATABASE_URL: string;
  REDIS_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  TEMPORAL_TASK_QUEUE: string;
  TEMPORAL_LEGACY_TASK_QUEUE: string;
}

export class BenchWorker {
  readonly sampler: RssSampler;
  /** Rejects when the worker exits before `stop` is called. */
  readonly died: Promise<never>;
  private stopping = false;
  private exitCode: Promise<number | null>;

  private constructor(
    readonly role: WorkerRole,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.sampler = new RssSampler(child.pid!);
    this.exitCode = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    this.died = this.exitCode.then((code) => {
      if (this.stopping) return new Promise<never>(() => {});
      throw new Error(`the ${ROLE_GROUP[role]} under test exited unexpectedly (code ${code}); its log: ${logFile}`);
    });
    this.died.catch(() => {});
  }

  get pid(): number {
    return this.child.pid!;
  }

  get group(): WorkerGroup {
    return ROLE_GROUP[this.role];
  }

  static async start(env: WorkerEnv, logDir: string, client: Client, label: string, role: WorkerRole): Promise<BenchWorker> {
    const logFile = path.join(logDir, `worker-${label}-${role}.log`);
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'luckygas-sync.js'), 'worker', '--role', role], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, ...IMAGE_ENV, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    if (!child.pid) throw new Error('could not start the worker process');
    const w = new BenchWorker(role, child, logFile);
    const started = Date.now();
    // Ready when it polls its task queues (a core worker loads the workflow bundle first).
    while (!(await polled(client, env, role))) {
      if (child.exitCode !== null) await w.died;
      if (Date.now() - started > 120_000) {
        await w.stop();
        throw new Error(`the ${ROLE_GROUP[role]} did not poll its task queues within 120 s; its log: ${logFile}`);
      }
      await sleep(200);
    }
    return w;
  }

  cpu(): number {
    return cpuSeconds(this.pid) ?? 0;
  }

  /** Lifetime peak RSS (VmHWM, or a higher sampled VmRSS), bytes. */
  hwm(): number {
    return Math.max(memory(this.pid)?.hwm ?? 0, this.sampler.overallPeak);
  }

  /** SIGTERM (the SDK shuts down gracefully), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.sampler.stop();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await this.exitCode;
    clearTimeout(timer);
  }

  /** Runs `work`, failing at once if the worker dies meanwhile. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.died]);
  }
}

/** Whether the role's task queues are polled: the sync queue's workflow and activity tasks (core), the legacy queue's activity tasks (legacy). */
async function polled(client: Client, env: WorkerEnv, role: WorkerRole): Promise<boolean> {
  const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;
  const queues: [string, number][] = [];
  if (role !== 'legacy') queues.push([env.TEMPORAL_TASK_QUEUE, TASK_QUEUE_TYPE_WORKFLOW], [env.TEMPORAL_TASK_QUEUE, TASK_QUEUE_TYPE_ACTIVITY]);
  if (role !== 'core') queues.push([env.TEMPORAL_LEGACY_TASK_QUEUE, TASK_QUEUE_TYPE_ACTIVITY]);
  for (const [name, taskQueueType] of queues) {
    const res = await client.workflowService.describeTaskQueue({ namespace: env.TEMPORAL_NAMESPACE, taskQueue: { name }, taskQueueType });
    if ((res.pollers?.length ?? 0) === 0) return false;
  }
  return true;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
