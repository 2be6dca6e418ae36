import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { expectExit, json, runCli, type CliOptions, type CliResult } from './cli';
import { createTestDatabase } from './testDatabase';

/**
 * The command-line program as an operator runs it: the built `bin/luckygas-sync.js`, a real
 * legacy file, this file's own PostgreSQL database and the tests' Temporal and Redis, every
 * setting passed in the environment. LUCKYGAS_DATA_DIR is an empty folder, so nothing falls
 * back to a developer's `.data/stack.json`.
 *
 * Task queues: no worker polls this file's queues, so each one-off command runs a worker in
 * its own process. Temporal keeps listing a poller for minutes after its process exits, so a
 * command is given a queue no earlier command used (`queue(step)`), except in the test that is
 * about exactly that (a second command right after the first on the same queue).
 */

export const PREFIX = `test-cli-${randomBytes(4).toString('hex')}`;
export const QUEUE = PREFIX;
const queues = new Set<string>([QUEUE]);
export function queue(step: string): string {
  const q = `${PREFIX}-${step}`;
  queues.add(q);
  return q;
}

export const GENERATED = { clients: 50, drivers: 5, deliveries: 500 };
export const NEW_TABLE = { clients: 'customers', drivers: 'drivers', deliveries: 'orders' } as const;

export let dir: string;
export let dataDir: string;
export let legacyPath: string;
export let db: Awaited<ReturnType<typeof createTestDatabase>>;
export let pool: pg.Pool;
export let temporalClient: Client;

/** The CLI's environment for this file; `extra` overrides (undefined removes a variable). */
export function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    LEGACY_DB_PATH: legacyPath,
    DATABASE_URL: db.url,
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: QUEUE,
    LUCKYGAS_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export function cli(args: string[], extra: Record<string, string | undefined> = {}, opts: Omit<CliOptions, 'env'> = {}): Promise<CliResult> {
  return runCli(args, { timeoutMs: 60_000, ...opts, env: env(extra) });
}

export async function count(sql: string, params: unknown[] = []): Promise<number> {
  const res = await pool.query(sql, params);
  return Number(Object.values(res.rows[0])[0]);
}

export function legacy<T>(body: (db: Database.Database) => T): T {
  const file = new Database(legacyPath);
  try {
    return body(file);
  } finally {
    file.close();
  }
}

/** A legacy client whose invoice_title holds exactly these bytes (stored as TEXT, as the legacy application does). */
export function insertClient(code: string, title: Buffer, updated: string): number {
  return legacy((file) =>
    Number(
      file
        .prepare(`INSERT INTO clients (client_code, invoice_title, is_active, created_at, updated_at) VALUES (?, CAST(? AS TEXT), 1, ?, ?)`)
        .run(code, title, updated, updated).lastInsertRowid,
    ),
  );
}

export async function terminate(workflowId: string): Promise<void> {
  await temporalClient.workflow
    .getHandle(workflowId)
    .terminate('cli.test clean-up')
    .catch(() => {});
}

/** Workflows left running on this file's queues (nothing polls them any more). */
async function terminateLeftovers(): Promise<void> {
  for (const q of queues) {
    for await (const wf of temporalClient.workflow.list({ query: `TaskQueue = "${q}" AND ExecutionStatus = "Running"` })) {
      await temporalClient.workflow.getHandle(wf.workflowId, wf.runId).terminate('cli.test clean-up').catch(() => {});
    }
  }
}

/** Schedules whose action starts a workflow on one of this file's queues. */
export async function ourSchedules(): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of temporalClient.schedule.list()) {
    const d = await temporalClient.schedule.getHandle(s.scheduleId).describe().catch(() => null);
    if (d && d.action.type === 'startWorkflow' && queues.has(d.action.taskQueue)) ids.push(s.scheduleId);
  }
  return ids.sort();
}

export async function deleteOurSchedules(): Promise<void> {
  for (const id of await ourSchedules()) await temporalClient.schedule.getHandle(id).delete().catch(() => {});
}

export async function waitForPollers(taskQueue: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await temporalClient.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    if ((res.pollers?.length ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error(`no worker polled ${taskQueue} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const slug = (command: string) => command.replace(/\W+/g, '-');

/** Registers the file's set-up and clean-up (call once, at the top of a test file). */
export function useCliSuite(): void {
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'luckygas-cli-test-'));
  dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  legacyPath = path.join(dir, 'l.db');
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  temporalClient = new Client({ connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }), namespace: 'default' });

  const gen = await cli(['fixtures', 'generate', '--out', legacyPath, '--deliveries', '500', '--clients', '50', '--drivers', '5', '--json']);
  expectExit(gen, 0);
  expect(json(gen)).toMatchObject({ path: legacyPath, ...GENERATED });
}, 120_000);

afterAll(async () => {
  if (temporalClient) {
    // Schedule ids are fixed: remove any this file left behind (other files expect none).
    await deleteOurSchedules().catch(() => {});
    await terminateLeftovers().catch(() => {});
    await temporalClient.connection.close();
  }
  await pool?.end();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);
}
