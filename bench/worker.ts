import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../src/paths';
import { cpuSeconds, memory, RssSampler } from './measure';

/**
 * The worker under test, as a child process of its own (`luckygas-sync worker`), so that its
 * memory and CPU time are its alone and not the bench's.
 */

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
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.sampler = new RssSampler(child.pid!);
    this.exitCode = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    this.died = this.exitCode.then((code) => {
      if (this.stopping) return new Promise<never>(() => {});
      throw new Error(`the worker under test exited unexpectedly (code ${code}); its log: ${logFile}`);
    });
    this.died.catch(() => {});
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(env: WorkerEnv, logDir: string, client: Client, label: string): Promise<BenchWorker> {
    const logFile = path.join(logDir, `worker-${label}.log`);
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'luckygas-sync.js'), 'worker'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    if (!child.pid) throw new Error('could not start the worker process');
    const w = new BenchWorker(child, logFile);
    const started = Date.now();
    // Ready when it polls the task queue (it bundles the workflows first: a few seconds).
    while (!(await polled(client, env))) {
      if (child.exitCode !== null) await w.died;
      if (Date.now() - started > 120_000) {
        await w.stop();
        throw new Error(`the worker did not poll task queue ${env.TEMPORAL_TASK_QUEUE} within 120 s; its log: ${logFile}`);
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

/** Whether workflow and activity tasks of the queue are both polled. */
async function polled(client: Client, env: WorkerEnv): Promise<boolean> {
  const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;
  for (const taskQueueType of [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY]) {
    const res = await client.workflowService.describeTaskQueue({
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: { name: env.TEMPORAL_TASK_QUEUE },
      taskQueueType,
    });
    if ((res.pollers?.length ?? 0) === 0) return false;
  }
  return true;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
