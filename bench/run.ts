import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import Database from 'better-sqlite3';
import pg from 'pg';
import { defaultPayloadConverter, ScheduleOverlapPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { ids, type CycleSummary, type RunSummary } from '../src/shared';
import { BackfillWorkflow, SyncCycleWorkflow } from '../workflows';
import { loadEnv, type AppEnv } from '../src/config/env';
import { decodeCp950 } from '../src/encoding/cp950';
import { loadEudcMap } from '../src/encoding/eudc';
import { generateLegacyDb } from '../src/fixtures/legacyFixture';
import { PROJECT_ROOT } from '../src/paths';
import { stackSettingsFromEnv } from '../src/stack/settings';
import { stackUp } from '../src/stack/stack';
import { connectClient } from '../src/temporal/connection';
import { targetOf } from '../src/temporal/target';
import type { WorkerRole } from '../src/shared';
import { createEmptyDatabase, createSyncDatabase, dropDatabase, recreateDatabase } from './db';
import { breakdown, type Breakdown } from './history';
import { CpuTracker, machineInfo, mb, median, percentile, postmasterPid, round, slowerOrFaster, type CpuSplit, type MachineInfo, type StackProcesses, type WorkerGroup } from './measure';
import { ensurePgloader, pgloaderVersion, runPgloader, utf8Copy, type PgloaderRun } from './pgloader';
import { rawCopy, type RawCopyRun } from './rawCopy';
import { markdownReport, printReport, type Target } from './report';
import { BenchWorker, ROLE_GROUP, sleep } from './worker';

/**
 * `npm run bench`: the sync on the real local stack, measured.
 *
 *  1. Initial load: a generated legacy file (N deliveries plus clients and drivers), and the
 *     first cycle on an empty database, end to end through Temporal, with the sync's workers
 *     as child processes of their own (one serving both roles, or with --split a core worker
 *     and a legacy agent: peak RSS and CPU time of each). Row counts are verified.
 *  2. The floors: a raw COPY of the rows the load left into an empty database of the same
 *     schema; pgloader loading the same rows into a database of its own.
 *  3. Backfill: every row read again after the load (nothing to write).
 *  4. Incremental: cycles with nothing changed, then one cycle after 1,000 legacy edits.
 *  5. Lag: a Temporal schedule every --interval-seconds, legacy edits one a second, the time
 *     until each is visible in PostgreSQL.
 *  6. Write-back: 1,000 orders created in PostgreSQL, one cycle to the legacy file.
 *  7. With --sizes: an initial load at each size (fresh file, database and workers), the cost curve.
 *
 * Everything runs in databases, task queues and a folder of its own, removed at the end.
 */

const TABLES = ['clients', 'drivers', 'deliveries'] as const;
const NEW_TABLE: Record<string, string> = { clients: 'customers', drivers: 'drivers', deliveries: 'orders' };
const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');

export interface BenchOptions {
  deliveries: number;
  clients?: number;
  drivers?: number;
  sizes: number[];
  skipPgloader: boolean;
  quick: boolean;
  json?: string;
  lagEdits: number;
  intervalSeconds: number;
  changedRows: number;
  writeBackOrders: number;
  keep: boolean;
  /** A core worker and a legacy agent, each a process of its own, instead of one worker serving both roles. */
  split: boolean;
  skipRawCopy: boolean;
  skipBackfill: boolean;
  /** Rounds of the initial load against pgloader (the first is the load the other phases follow). */
  rounds: number;
}

const started = Date.now();
function log(line: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[bench ${s}s] ${line}\n`);
}

/** Cleanup steps, run last-in first-out once, also on Ctrl-C. */
class Cleanup {
  private steps: { name: string; fn: () => Promise<unknown> | unknown }[] = [];
  add(name: string, fn: () => Promise<unknown> | unknown): () => void {
    const step = { name, fn };
    this.steps.push(step);
    return () => {
      this.steps = this.steps.filter((s) => s !== step);
    };
  }
  async run(): Promise<void> {
    while (this.steps.length) {
      const s = this.steps.pop()!;
      try {
        await s.fn();
      } catch (err) {
        process.stderr.write(`cleanup (${s.name}) failed: ${(err as Error).message}\n`);
      }
    }
  }
}

interface Ctx {
  opts: BenchOptions;
  env: AppEnv;
  client: Client;
  stamp: string;
  dir: string;
  cleanup: Cleanup;
  stack: StackProcesses;
}

const clientsFor = (o: BenchOptions, deliveries: number) => o.clients ?? Math.max(200, Math.round(deliveries / 50));
const driversFor = (o: BenchOptions, deliveries: number) => o.drivers ?? Math.max(20, Math.round(deliveries / 10_000));

// ─────────────────────────────────── legacy file ───────────────────────────────────

interface LegacyFile {
  path: string;
  counts: Record<string, number>;
  totalRows: number;
  generationSeconds: number;
  fileMb: number;
}

function makeLegacyFile(ctx: Ctx, label: string, deliveries: number): LegacyFile {
  const file = path.join(ctx.dir, `legacy-${label}.db`);
  const clients = clientsFor(ctx.opts, deliveries);
  const drivers = driversFor(ctx.opts, deliveries);
  log(`generating ${file}: ${deliveries} deliveries, ${clients} clients, ${drivers} drivers`);
  const g = generateLegacyDb({ path: file, deliveries, clients, drivers, overwrite: true });
  const counts = legacyCounts(file);
  const totalRows = Object.values(counts).reduce((a, b) => a + b, 0);
  log(`generated in ${g.seconds.toFixed(1)} s (${mb(statSync(file).size)} MB)`);
  return { path: file, counts, totalRows, generationSeconds: round(g.seconds, 1), fileMb: mb(statSync(file).size) };
}

function legacyCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

// ─────────────────────────────────── the sync's processes ───────────────────────────────────

interface SyncSetup {
  dbName: string;
  dbUrl: string;
  taskQueue: string;
  legacyQueue: string;
  /** Starts the setup's work for its own legacy file, database and legacy task queue. */
  client: Client;
  /** One `worker` serving both roles, or (--split) a core worker and a legacy agent. */
  workers: BenchWorker[];
  /** Runs `work`, failing at once if a worker dies meanwhile. */
  guard<T>(work: Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

const roleGroups = (workers: BenchWorker[]) => new Map(workers.map((w) => [w.pid, w.group] as const));

async function startSync(ctx: Ctx, label: string, legacyPath: string): Promise<SyncSetup> {
  const dbName = `bench_sync_${ctx.stamp}_${label}`;
  const dbUrl = await createSyncDatabase(ctx.env.DATABASE_URL, dbName, log);
  const undoDb = ctx.opts.keep ? () => {} : ctx.cleanup.add(`drop ${dbName}`, () => dropDatabase(ctx.env.DATABASE_URL, dbName));
  const taskQueue = `bench-${ctx.stamp}-${label}`;
  const legacyQueue = `${taskQueue}-legacy`;
  const roles: WorkerRole[] = ctx.opts.split ? ['legacy', 'core'] : ['all'];
  log(`database ${dbName}; starting ${roles.map((r) => ROLE_GROUP[r]).join(' and ')} on task queues ${taskQueue}, ${legacyQueue}`);
  const workerEnv = {
    LEGACY_DB_PATH: legacyPath,
    DATABASE_URL: dbUrl,
    REDIS_URL: ctx.env.REDIS_URL,
    TEMPORAL_ADDRESS: ctx.env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: ctx.env.TEMPORAL_NAMESPACE,
    TEMPORAL_TASK_QUEUE: taskQueue,
    TEMPORAL_LEGACY_TASK_QUEUE: legacyQueue,
  };
  const workers: BenchWorker[] = [];
  const undoWorkers: (() => void)[] = [];
  for (const role of roles) {
    const w = await BenchWorker.start(workerEnv, ctx.dir, ctx.client, label, role);
    workers.push(w);
    undoWorkers.push(ctx.cleanup.add(`stop ${w.group} ${label}`, () => w.stop()));
    log(`${w.group} pid ${w.pid} polls (RSS ${mb(w.sampler.last)} MB)`);
  }
  const setupEnv = { ...ctx.env, ...workerEnv };
  const client = await connectClient(setupEnv, targetOf(setupEnv, 'all'));
  ctx.cleanup.add(`close client ${label}`, () => client.connection.close());
  return {
    dbName,
    dbUrl,
    taskQueue,
    legacyQueue,
    client,
    workers,
    guard: (work) => Promise.race([work, ...workers.map((w) => w.died)]),
    async stop() {
      for (const w of workers) await w.stop();
      undoWorkers.forEach((u) => u());
      if (!ctx.opts.keep) {
        await dropDatabase(ctx.env.DATABASE_URL, dbName);
        undoDb();
      }
    },
  };
}

/** Memory and CPU of each of the sync's processes over a phase. */
export interface ProcessUse {
  group: WorkerGroup;
  /** RSS once it polls, before any work. */
  startupRssMb: number;
  /** VmHWM before the phase: the peak of its start-up. */
  startupPeakMb: number;
  /** Peak VmRSS sampled every 100 ms during the phase. */
  peakRssMb: number;
  /** VmHWM after the phase: the lifetime peak so far. */
  lifetimePeakMb: number;
  cpuSeconds: number;
  /** CPU seconds per 1,000 rows. */
  cpuPer1000Rows: number;
}

/** Measures a phase of work on the sync's processes: their memory and CPU, and CPU by kind of process on the machine. */
async function measured<T>(ctx: Ctx, sync: SyncSetup, rows: number, work: () => Promise<T>): Promise<{ value: T; seconds: number; processes: ProcessUse[]; cpu: CpuSplit; machineCpuUse: number }> {
  const before = sync.workers.map((w) => {
    const startup = { rss: w.sampler.last, peak: w.hwm() };
    w.sampler.reset();
    return { ...startup, cpu: w.cpu() };
  });
  const tracker = new CpuTracker(roleGroups(sync.workers), ctx.stack);
  const t0 = process.hrtime.bigint();
  const value = await sync.guard(work());
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = tracker.stop();
  const processes = sync.workers.map((w, i) => {
    const used = w.cpu() - before[i].cpu;
    return {
      group: w.group,
      startupRssMb: mb(before[i].rss),
      startupPeakMb: mb(before[i].peak),
      peakRssMb: mb(w.sampler.peak),
      lifetimePeakMb: mb(w.hwm()),
      cpuSeconds: round(used, 2),
      cpuPer1000Rows: round((used / Math.max(1, rows)) * 1000, 3),
    };
  });
  const total = Object.values(cpu).reduce((a, b) => a + (b ?? 0), 0);
  return { value, seconds, processes, cpu, machineCpuUse: round(total / seconds / os.cpus().length, 2) };
}

/** Every legacy row is in PostgreSQL, or held back with a reason (never silently missing). */
async function verifyLoaded(sync: SyncSetup, legacy: LegacyFile): Promise<{ legacy: Record<string, number>; postgres: Record<string, number>; heldBack: Record<string, number> }> {
  const pgc = new pg.Client({ connectionString: sync.dbUrl });
  await pgc.connect();
  const postgres: Record<string, number> = {};
  const heldBack: Record<string, number> = {};
  try {
    for (const t of TABLES) {
      postgres[t] = Number((await pgc.query<{ n: string }>(`SELECT count(*) AS n FROM ${NEW_TABLE[t]} WHERE legacy_id IS NOT NULL`)).rows[0].n);
      heldBack[t] = Number(
        (await pgc.query<{ n: string }>(`SELECT count(*) AS n FROM sync_held_back WHERE table_name = $1 AND direction = 'legacy-to-new' AND resolved_at IS NULL`, [t])).rows[0].n,
      );
    }
  } finally {
    await pgc.end();
  }
  for (const t of TABLES) {
    if (postgres[t] + heldBack[t] !== legacy.counts[t]) {
      throw new Error(`verification failed for ${t}: legacy has ${legacy.counts[t]} rows, PostgreSQL ${postgres[t]}, held back ${heldBack[t]}`);
    }
    if (heldBack[t] > 0) log(`WARNING: ${t}: ${heldBack[t]} of ${legacy.counts[t]} rows held back (not in PostgreSQL)`);
  }
  log(`verified: ${TABLES.map((t) => `${NEW_TABLE[t]} ${postgres[t]}/${legacy.counts[t]}`).join(', ')}`);
  return { legacy: legacy.counts, postgres, heldBack };
}

// ─────────────────────────────────── the initial load ───────────────────────────────────

export interface LoadResult {
  deliveries: number;
  rows: Record<string, number>;
  totalRows: number;
  seconds: number;
  rowsPerSecond: number;
  tables: (Pick<RunSummary, 'table' | 'direction' | 'status' | 'read' | 'written' | 'unchanged' | 'heldBack'> & { seconds: number })[];
  processes: ProcessUse[];
  /** CPU seconds used by each kind of process during the load. */
  cpu: CpuSplit;
  /** Share of the machine's CPU capacity used during the load. */
  machineCpuUse: number;
  verified: { legacy: Record<string, number>; postgres: Record<string, number>; heldBack: Record<string, number> };
  breakdown?: Breakdown;
}

/**
 * The initial load as a user meets it: the first cycle on an empty database (what the first
 * `sync-once` or the schedule's first run does), timed from the start of SyncCycleWorkflow to
 * its result.
 */
async function initialLoad(ctx: Ctx, sync: SyncSetup, legacy: LegacyFile, label: string, withBreakdown: boolean): Promise<LoadResult> {
  const workflowId = `bench-cycle/${ctx.stamp}/${label}/initial`;
  log(`initial load: the first cycle on an empty database, ${legacy.totalRows} legacy rows (${workflowId})`);
  const progress = setInterval(() => void reportProgress(sync.client, workflowId), 15_000);
  let m;
  try {
    m = await measured(ctx, sync, legacy.totalRows, () => sync.client.workflow.execute(SyncCycleWorkflow, { taskQueue: sync.taskQueue, workflowId, args: [{}] }));
  } finally {
    clearInterval(progress);
  }
  const summary = m.value;
  log(`  ${Math.round(m.seconds * 10) / 10} s (${Math.round(legacy.totalRows / m.seconds)} rows/s): ${summary.tables.map((t) => `${t.table} ${t.direction} ${t.written} written in ${t.ms} ms`).join('; ')}`);
  const result: LoadResult = {
    deliveries: legacy.counts.deliveries,
    rows: legacy.counts,
    totalRows: legacy.totalRows,
    seconds: round(m.seconds, 2),
    rowsPerSecond: round(legacy.totalRows / m.seconds),
    tables: summary.tables.map((t) => ({ table: t.table, direction: t.direction, status: t.status, read: t.read, written: t.written, unchanged: t.unchanged, heldBack: t.heldBack, seconds: round(t.ms / 1000, 2) })),
    processes: m.processes,
    cpu: m.cpu,
    machineCpuUse: m.machineCpuUse,
    verified: await verifyLoaded(sync, legacy),
  };
  if (withBreakdown) {
    log('reading the initial load\'s histories (where the time went)');
    result.breakdown = await breakdown(ctx.client, [{ workflowId }], sync.legacyQueue);
  }
  return result;
}

/** A line on the terminal during a long load: each table run's progress query. */
async function reportProgress(client: Client, cycleId: string): Promise<void> {
  const parts: string[] = [];
  for (const table of TABLES) {
    try {
      const handle = client.workflow.getHandle(ids.tableSync(table, 'legacy-to-new', cycleId));
      const p = await handle.query<{ read: number; phase: string; total: number | null }>('progress');
      const read = p.phase === 'load' ? await loadRead(handle) : p.read;
      parts.push(`${table} ${p.phase} ${read}/${p.total ?? '?'}`);
    } catch {
      /* not started yet, or done */
    }
  }
  if (parts.length) log(`  ... ${parts.join(', ')}`);
}

/** Rows a one-transaction load has read so far: its activity's last heartbeat says (the run's own count comes at the commit). */
async function loadRead(handle: WorkflowHandle): Promise<number> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  const details = pending.find((a) => a.activityType?.name === 'loadTable')?.heartbeatDetails?.payloads?.[0];
  return details ? (defaultPayloadConverter.fromPayload<{ read: number }>(details).read ?? 0) : 0;
}

// ─────────────────────────────────── backfill ───────────────────────────────────

export interface BackfillResult {
  totalRows: number;
  seconds: number;
  rowsPerSecond: number;
  tables: (Pick<RunSummary, 'table' | 'status' | 'read' | 'written' | 'unchanged' | 'heldBack'> & { seconds: number; rowsPerSecond: number })[];
  processes: ProcessUse[];
  cpu: CpuSplit;
  breakdown?: Breakdown;
}

async function followBackfill(handle: WorkflowHandle<typeof BackfillWorkflow>, table: string, total: number): Promise<RunSummary> {
  const t0 = Date.now();
  const timer = setInterval(() => {
    handle.query<{ read: number }>('progress').then(
      (p) => {
        const s = (Date.now() - t0) / 1000;
        log(`  ${table}: ${p.read}/${total} rows, ${Math.round(p.read / s)} rows/s`);
      },
      () => {
        /* between continue-as-new runs */
      },
    );
  }, 15_000);
  try {
    return await handle.result();
  } finally {
    clearInterval(timer);
  }
}

/**
 * `luckygas-sync backfill` after the initial load: every legacy row read again and compared
 * with what the sync last saw (each table's BackfillWorkflow, one after the other); nothing
 * has changed, so nothing is written.
 */
async function backfill(ctx: Ctx, sync: SyncSetup, legacy: LegacyFile): Promise<BackfillResult> {
  const tables: BackfillResult['tables'] = [];
  const handles: { workflowId: string }[] = [];
  const m = await measured(ctx, sync, legacy.totalRows, async () => {
    for (const table of TABLES) {
      const workflowId = `backfill/${table}/bench-${ctx.stamp}`;
      const ts = process.hrtime.bigint();
      log(`backfill ${table}: ${legacy.counts[table]} rows (${workflowId})`);
      const handle = await sync.client.workflow.start(BackfillWorkflow, { taskQueue: sync.taskQueue, workflowId, args: [{ table }] });
      const undo = ctx.cleanup.add(`terminate ${workflowId}`, () => handle.terminate('bench cleanup').catch(() => {}));
      const r = await followBackfill(handle, table, legacy.counts[table]);
      undo();
      handles.push({ workflowId });
      const seconds = Number(process.hrtime.bigint() - ts) / 1e9;
      tables.push({ table, status: r.status, read: r.read, written: r.written, unchanged: r.unchanged, heldBack: r.heldBack, seconds: round(seconds, 2), rowsPerSecond: round(legacy.counts[table] / seconds) });
      log(`  ${table}: ${r.status}, ${r.unchanged} unchanged, ${r.written} written in ${seconds.toFixed(1)} s (${Math.round(legacy.counts[table] / seconds)} rows/s)`);
    }
  });
  return {
    totalRows: legacy.totalRows,
    seconds: round(m.seconds, 2),
    rowsPerSecond: round(legacy.totalRows / m.seconds),
    tables,
    processes: m.processes,
    cpu: m.cpu,
    breakdown: await breakdown(ctx.client, handles.filter((h) => h.workflowId.startsWith('backfill/deliveries/')), sync.legacyQueue),
  };
}

// ─────────────────────────────────── raw COPY ───────────────────────────────────

export interface RawCopyResult extends RawCopyRun {
  cpu: CpuSplit;
}

async function rawCopyPhase(ctx: Ctx, sync: SyncSetup): Promise<RawCopyResult> {
  const dbName = `bench_copy_${ctx.stamp}`;
  const url = await createSyncDatabase(ctx.env.DATABASE_URL, dbName, log);
  const undo = ctx.opts.keep ? () => {} : ctx.cleanup.add(`drop ${dbName}`, () => dropDatabase(ctx.env.DATABASE_URL, dbName));
  log(`raw COPY of the loaded rows into an empty database of the same schema (${dbName})`);
  const tracker = new CpuTracker(roleGroups(sync.workers), ctx.stack);
  const run = await rawCopy(sync.dbUrl, url, TABLES.map((t) => NEW_TABLE[t]), ctx.dir);
  const cpu = tracker.stop();
  log(`  ${run.totalRows} rows in ${run.seconds} s (${run.rowsPerSecond} rows/s)`);
  if (!ctx.opts.keep) {
    await dropDatabase(ctx.env.DATABASE_URL, dbName);
    undo();
  }
  return { ...run, cpu };
}

// ─────────────────────────────────── pgloader ───────────────────────────────────

export interface PgloaderResult {
  version: string;
  /** The legacy file itself. */
  sameFile: PgloaderRun;
  /** The same rows with the text decoded to UTF-8 (what pgloader can read). */
  utf8Copy?: PgloaderRun & { preparationSeconds: number; undecodableValues: number; cpu: CpuSplit };
  /** Rate used for the ratio: its rate over the full row total. */
  rowsPerSecond: number | null;
  basis: string;
}

/** pgloader's result, and a run of it again on the same input (a round after the first: --rounds); `close` removes that input. */
interface PgloaderPhase {
  result: PgloaderResult;
  again(round: number): Promise<number | null>;
  close(): void;
}

async function pgloaderPhase(ctx: Ctx, legacy: LegacyFile, sync: SyncSetup): Promise<PgloaderPhase> {
  const bin = ensurePgloader(log);
  const version = pgloaderVersion(bin);
  const dbName = `bench_pgloader_${ctx.stamp}`;
  let url = await createEmptyDatabase(ctx.env.DATABASE_URL, dbName);
  if (!ctx.opts.keep) ctx.cleanup.add(`drop ${dbName}`, () => dropDatabase(ctx.env.DATABASE_URL, dbName));
  // The rate over every legacy row, of a run into an empty database of its own.
  const again = (file: string) => async (n: number) => {
    const run = await runPgloader(bin, file, await recreateDatabase(ctx.env.DATABASE_URL, dbName), ctx.dir, `round-${n}`, [...TABLES]);
    await dropDatabase(ctx.env.DATABASE_URL, dbName);
    const rate = run.totalRows === legacy.totalRows ? round(legacy.totalRows / run.seconds) : null;
    log(`  pgloader, round ${n}: ${run.totalRows}/${legacy.totalRows} rows in ${run.seconds} s (${rate ?? 'incomplete'} rows/s)`);
    return rate;
  };

  log(`pgloader (${version}) on the legacy file itself`);
  const sameFile = await runPgloader(bin, legacy.path, url, ctx.dir, 'same-file', [...TABLES]);
  log(`  ${sameFile.totalRows}/${legacy.totalRows} rows in ${sameFile.seconds} s, exit ${sameFile.exitCode}, ${sameFile.errorCount} errors${sameFile.errors[0] ? ` (${sameFile.errors[0]})` : ''}`);
  const complete = sameFile.totalRows === legacy.totalRows;
  if (complete) {
    const result: PgloaderResult = { version, sameFile, rowsPerSecond: round(legacy.totalRows / sameFile.seconds), basis: 'the legacy file itself' };
    return { result, again: again(legacy.path), close: () => {} };
  }

  // pgloader reads SQLite TEXT as UTF-8 and gives up on a table at its first CP950 value: give
  // it the same rows decoded to UTF-8 (the decoding is not timed) for a rate to compare with.
  const copy = path.join(ctx.dir, 'legacy-utf8.db');
  log('pgloader could not load the file: preparing a UTF-8 copy of it (same rows, text decoded as the sync decodes it)');
  const prep = utf8Copy(legacy.path, copy, [...TABLES]);
  log(`  decoded ${prep.values} values in ${prep.seconds} s (${prep.undecodable} undecodable, kept as Latin-1)`);
  url = await recreateDatabase(ctx.env.DATABASE_URL, dbName);
  log('pgloader on the UTF-8 copy');
  const tracker = new CpuTracker(roleGroups(sync.workers), ctx.stack);
  const run = await runPgloader(bin, copy, url, ctx.dir, 'utf8-copy', [...TABLES]);
  const cpu = tracker.stop();
  cpu.pgloader = Math.max(cpu.pgloader ?? 0, run.cpuSeconds);
  log(`  ${run.totalRows}/${legacy.totalRows} rows in ${run.seconds} s (${run.rowsPerSecond} rows/s), exit ${run.exitCode}, ${run.errorCount} errors`);
  await dropDatabase(ctx.env.DATABASE_URL, dbName);
  const result: PgloaderResult = {
    version,
    sameFile,
    utf8Copy: { ...run, preparationSeconds: prep.seconds, undecodableValues: prep.undecodable, cpu },
    rowsPerSecond: run.totalRows === legacy.totalRows ? round(legacy.totalRows / run.seconds) : null,
    basis: 'a UTF-8 copy of the legacy file (pgloader cannot read the CP950 original)',
  };
  return { result, again: again(copy), close: () => rmSync(copy, { force: true }) };
}

/** A round of the load against pgloader: each one's rate, and their ratio. */
export interface Round {
  loadRowsPerSecond: number;
  pgloaderRowsPerSecond: number | null;
  ratio: number | null;
}

function roundOf(loadRowsPerSecond: number, pgloaderRowsPerSecond: number | null): Round {
  return { loadRowsPerSecond, pgloaderRowsPerSecond, ratio: pgloaderRowsPerSecond ? round(loadRowsPerSecond / pgloaderRowsPerSecond, 3) : null };
}

/**
 * Rounds 2..--rounds of the initial load against pgloader, one after the other: the load
 * again with a fresh database and workers on the same file, then pgloader again on its input.
 * One run of either is a draw on this kind of machine (each moves by some ±8 % from one run to
 * the next); the median of the rounds' ratios says more than one ratio does.
 */
async function moreRounds(ctx: Ctx, legacy: LegacyFile, pgl: PgloaderPhase): Promise<Round[]> {
  const rounds: Round[] = [];
  for (let i = 2; i <= ctx.opts.rounds; i++) {
    const label = `round${i}`;
    const s = await startSync(ctx, label, legacy.path);
    const load = await initialLoad(ctx, s, legacy, label, false);
    await s.stop();
    rounds.push(roundOf(load.rowsPerSecond, await pgl.again(i)));
  }
  return rounds;
}

// ─────────────────────────────────── cycles ───────────────────────────────────

interface CycleRun {
  workflowId: string;
  ms: number;
  summary: CycleSummary;
  /** CPU seconds by process during the cycle: what a cycle costs the machine, beside how long it takes. */
  cpu: CpuSplit;
}

async function runCycle(ctx: Ctx, sync: SyncSetup, label: string): Promise<CycleRun> {
  const workflowId = `bench-cycle/${ctx.stamp}/${label}`;
  const tracker = new CpuTracker(roleGroups(sync.workers), ctx.stack);
  const t0 = process.hrtime.bigint();
  const summary = await sync.guard(sync.client.workflow.execute(SyncCycleWorkflow, { taskQueue: sync.taskQueue, workflowId, args: [{}] }));
  const ms = round(Number(process.hrtime.bigint() - t0) / 1e6);
  return { workflowId, ms, summary, cpu: tracker.stop() };
}

const tableRows = (s: CycleSummary) =>
  s.tables.map((t) => ({ table: t.table, direction: t.direction, status: t.status, read: t.read, written: t.written, unchanged: t.unchanged, heldBack: t.heldBack, conflicts: t.conflicts, ms: t.ms }));

/** Distinct random ids in [1, max]. */
function randomIds(n: number, max: number, avoid: Set<number> = new Set()): number[] {
  const out = new Set<number>();
  if (n > max - avoid.size) throw new Error(`cannot pick ${n} ids out of ${max}`);
  while (out.size < n) {
    const id = 1 + Math.floor(Math.random() * max);
    if (!avoid.has(id)) out.add(id);
  }
  return [...out];
}

const IDLE_CYCLES = 5;
/**
 * The 1,000-row cycle and the write-back run this many times, each with rows of its own, and
 * report the median: one sample of this machine swings by a fifth. Every round is listed.
 */
const ROUNDS = 5;

/** The round whose time is the median (ROUNDS is odd). */
function medianRound<T extends { ms: number }>(rounds: T[]): T {
  return [...rounds].sort((a, b) => a.ms - b.ms)[Math.floor(rounds.length / 2)];
}

export interface IncrementalResult {
  idleCycleMs: number[];
  idleCycleMedianMs: number | null;
  idleBreakdown?: Breakdown;
  changedRows: number;
  /** Median of changedCyclesMs. */
  changedCycleMs: number;
  /** Each round, in order. */
  changedCyclesMs: number[];
  /** Of the median round. */
  changedCycle: ReturnType<typeof tableRows>;
  changedCycleCpu: CpuSplit;
  verified: boolean;
  breakdown?: Breakdown;
}

async function incremental(ctx: Ctx, sync: SyncSetup, legacy: LegacyFile, edited: Set<number>): Promise<IncrementalResult> {
  const idle: number[] = [];
  let lastIdle = '';
  for (let i = 0; i < IDLE_CYCLES; i++) {
    const c = await runCycle(ctx, sync, `idle-${i}`);
    idle.push(c.ms);
    lastIdle = c.workflowId;
    log(`cycle with nothing changed: ${c.ms} ms`);
  }
  const idleBreakdown = await breakdown(ctx.client, [{ workflowId: lastIdle }], sync.legacyQueue);
  const n = Math.min(ctx.opts.changedRows, legacy.counts.deliveries);
  const rounds: CycleRun[] = [];
  const minute = (m: number) => `2099-01-01 00:${String(m).padStart(2, '0')}:00`;
  for (let round = 0; round < ROUNDS; round++) {
    const ids = randomIds(n, legacy.counts.deliveries, edited);
    ids.forEach((id) => edited.add(id));
    editDeliveries(legacy.path, ids, minute(round * 10));
    log(`changed ${n} legacy deliveries; one cycle (round ${round + 1} of ${ROUNDS})`);
    const c = await runCycle(ctx, sync, `changed-${round}`);
    log(`cycle with ${n} changed rows: ${c.ms} ms`);
    await verifyEdits(legacy.path, sync.dbUrl, ids);
    rounds.push(c);
    if (round < ROUNDS - 1) {
      // Every cycle reads the lookback window (120 s) before its watermark again: one row edited
      // 5 minutes later, and a cycle not measured, move the watermark past this round's rows,
      // so the next round reads its own rows only, as the first did.
      const next = randomIds(1, legacy.counts.deliveries, edited);
      edited.add(next[0]);
      editDeliveries(legacy.path, next, minute(round * 10 + 5));
      await runCycle(ctx, sync, `settle-${round}`);
    }
  }
  const c = medianRound(rounds);
  return {
    idleCycleMs: idle,
    idleCycleMedianMs: median(idle),
    idleBreakdown,
    changedRows: n,
    changedCycleMs: c.ms,
    changedCyclesMs: rounds.map((r) => r.ms),
    changedCycle: tableRows(c.summary),
    changedCycleCpu: c.cpu,
    verified: true,
    breakdown: await breakdown(ctx.client, [{ workflowId: c.workflowId }], sync.legacyQueue),
  };
}

function editDeliveries(file: string, ids: number[], updatedAt: string): void {
  const db = new Database(file, { timeout: 10_000 });
  try {
    const upd = db.prepare(`UPDATE deliveries SET cylinder_20kg = cylinder_20kg + 1, updated_at = ? WHERE id = ?`);
    db.transaction(() => ids.forEach((id) => upd.run(updatedAt, id)))();
  } finally {
    db.close();
  }
}

/** The edited deliveries' new values are in PostgreSQL. */
async function verifyEdits(file: string, dbUrl: string, ids: number[]): Promise<void> {
  const want = new Map<number, number>();
  const ro = new Database(file, { readonly: true });
  try {
    const q = ro.prepare(`SELECT cylinder_20kg AS v FROM deliveries WHERE id = ?`);
    for (const id of ids) want.set(id, (q.get(id) as { v: number }).v);
  } finally {
    ro.close();
  }
  const pgc = new pg.Client({ connectionString: dbUrl });
  await pgc.connect();
  let mismatched = 0;
  try {
    const rows = await pgc.query<{ legacy_id: number; qty_20kg: number }>(`SELECT legacy_id, qty_20kg FROM orders WHERE legacy_id = ANY($1::int[])`, [ids]);
    const got = new Map(rows.rows.map((r) => [r.legacy_id, r.qty_20kg]));
    for (const [id, v] of want) if (got.get(id) !== v) mismatched++;
  } finally {
    await pgc.end();
  }
  if (mismatched) throw new Error(`incremental verification failed: ${mismatched} of ${ids.length} changed deliveries do not have their new value in PostgreSQL after the cycle`);
}

// ─────────────────────────────────── lag ───────────────────────────────────

export interface LagResult {
  intervalSeconds: number;
  edits: number;
  seen: number;
  lagsMs: number[];
  medianMs: number | null;
  p95Ms: number | null;
  maxMs: number | null;
  scheduledCycles: number;
}

const LAG_BASE = Date.UTC(2099, 0, 1, 1, 0, 0);
const legacyTs = (secondsAfter: number) => new Date(LAG_BASE + secondsAfter * 1000).toISOString().slice(0, 19).replace('T', ' ');

async function lag(ctx: Ctx, sync: SyncSetup, legacy: LegacyFile, edited: Set<number>): Promise<LagResult> {
  const interval = ctx.opts.intervalSeconds;
  const scheduleId = `bench-lag-${ctx.stamp}`;
  log(`schedule ${scheduleId}: a cycle every ${interval} s`);
  const schedule = await sync.client.schedule.create({
    scheduleId,
    spec: { intervals: [{ every: `${interval} seconds` }] },
    action: { type: 'startWorkflow', workflowType: SyncCycleWorkflow, workflowId: `bench-scheduled/${ctx.stamp}`, taskQueue: sync.taskQueue, args: [{}] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  });
  const undo = ctx.cleanup.add(`delete schedule ${scheduleId}`, () => schedule.delete());

  // Let the first scheduled cycle run, so the edits meet the schedule in its steady state.
  const waitUntil = Date.now() + interval * 3000 + 60_000;
  while (Date.now() < waitUntil) {
    const d = await schedule.describe();
    if (d.info.recentActions.length > 0 && d.info.runningActions.length === 0) break;
    await sleep(200);
  }

  const db = new Database(legacy.path, { timeout: 10_000 });
  const upd = db.prepare(`UPDATE deliveries SET amount = ?, updated_at = ? WHERE id = ?`);
  const pgc = new pg.Client({ connectionString: sync.dbUrl });
  await pgc.connect();
  const pending = new Map<number, { amount: number; at: number }>();
  const lags: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling || pending.size) {
      if (pending.size) {
        const res = await pgc.query<{ legacy_id: number; amount: number | null }>(`SELECT legacy_id, amount FROM orders WHERE legacy_id = ANY($1::int[])`, [[...pending.keys()]]);
        const now = Date.now();
        for (const r of res.rows) {
          const p = pending.get(r.legacy_id);
          if (p && r.amount === p.amount) {
            lags.push(now - p.at);
            pending.delete(r.legacy_id);
          }
        }
      }
      if (!polling && pending.size === 0) break;
      await sleep(100);
    }
  })();
  const n = ctx.opts.lagEdits;
  const ids = randomIds(n, legacy.counts.deliveries, edited);
  const t0 = Date.now();
  try {
    for (let k = 0; k < n; k++) {
      const wait = t0 + k * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      const amount = 700_000_000 + k;
      upd.run(amount, legacyTs(k), ids[k]);
      pending.set(ids[k], { amount, at: Date.now() });
      edited.add(ids[k]);
    }
    log(`${n} edits made, one a second; waiting for them in PostgreSQL`);
    const deadline = Date.now() + Math.max(60_000, interval * 4000 + 30_000);
    while (pending.size && Date.now() < deadline) await sleep(200);
  } finally {
    polling = false;
    const stillPending = pending.size;
    pending.clear();
    await poller.catch(() => {});
    await pgc.end();
    db.close();
    if (stillPending) log(`WARNING: ${stillPending} of ${n} edits were not visible in PostgreSQL in time`);
  }

  // Stop the schedule and let a cycle it started finish before the next phase.
  const d = await schedule.describe();
  const scheduledCycles = d.info.recentActions.length;
  await schedule.delete();
  undo();
  for (const a of d.info.runningActions) {
    await ctx.client.workflow.getHandle(a.workflow.workflowId, a.workflow.firstExecutionRunId).result().catch(() => {});
  }
  const seen = lags.length;
  log(`lag: median ${median(lags)} ms, p95 ${percentile(lags, 95)} ms over ${seen} edits`);
  return {
    intervalSeconds: interval,
    edits: n,
    seen,
    lagsMs: lags,
    medianMs: median(lags),
    p95Ms: percentile(lags, 95),
    maxMs: lags.length ? Math.max(...lags) : null,
    scheduledCycles,
  };
}

// ─────────────────────────────────── write-back ───────────────────────────────────

export interface WriteBackResult {
  orders: number;
  /** Median of cyclesMs. */
  cycleMs: number;
  /** Each round, in order. */
  cyclesMs: number[];
  /** Of the median round. */
  writeBackRunMs: number | null;
  cycle: ReturnType<typeof tableRows>;
  cpu: CpuSplit;
  /** Per round. */
  legacyRowsAdded: number;
  verified: boolean;
  breakdown?: Breakdown;
}

async function writeBack(ctx: Ctx, sync: SyncSetup, legacy: LegacyFile): Promise<WriteBackResult> {
  const n = ctx.opts.writeBackOrders;
  const rounds: CycleRun[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const notes = Array.from({ length: n }, (_, k) => `請放後門，先打電話（測試 ${round * n + k + 1}）`);
    const orderIds = await createOrders(sync.dbUrl, notes);
    const before = legacyCounts(legacy.path).deliveries;
    log(`created ${n} orders in PostgreSQL; one cycle (round ${round + 1} of ${ROUNDS})`);
    const c = await runCycle(ctx, sync, `write-back-${round}`);
    const added = legacyCounts(legacy.path).deliveries - before;
    log(`write-back cycle: ${c.ms} ms, ${added} legacy deliveries added`);
    await verifyWriteBack(legacy.path, sync.dbUrl, orderIds, added);
    rounds.push(c);
  }
  const c = medianRound(rounds);
  const wb = c.summary.tables.find((t) => t.direction === 'new-to-legacy');
  return {
    orders: n,
    cycleMs: c.ms,
    cyclesMs: rounds.map((r) => r.ms),
    writeBackRunMs: wb?.ms ?? null,
    cycle: tableRows(c.summary),
    cpu: c.cpu,
    legacyRowsAdded: n,
    verified: true,
    breakdown: await breakdown(ctx.client, [{ workflowId: c.workflowId }], sync.legacyQueue),
  };
}

/** New pending orders, one per note, for random customers: the outbox queues them for the write-back. */
async function createOrders(dbUrl: string, notes: string[]): Promise<number[]> {
  const pgc = new pg.Client({ connectionString: dbUrl });
  await pgc.connect();
  try {
    const customers = (await pgc.query<{ id: number }>(`SELECT id FROM customers ORDER BY random() LIMIT $1`, [notes.length])).rows.map((r) => r.id);
    const customerIds = notes.map((_, k) => customers[k % customers.length]);
    const res = await pgc.query<{ id: number }>(
      `INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes, created_at, updated_at)
       SELECT c, current_date + 1, 1, 'pending'::order_status, 850, t, now(), now() FROM unnest($1::int[], $2::text[]) AS x(c, t)
       RETURNING id`,
      [customerIds, notes],
    );
    return res.rows.map((r) => r.id);
  } finally {
    await pgc.end();
  }
}

/** Every order has its legacy row, one each, whose notes are CP950 bytes that decode back to the order's text. */
async function verifyWriteBack(file: string, dbUrl: string, orderIds: number[], added: number): Promise<void> {
  const check = new pg.Client({ connectionString: dbUrl });
  await check.connect();
  let linked: { id: number; legacy_id: number | null; notes: string }[];
  try {
    linked = (await check.query(`SELECT id, legacy_id, notes FROM orders WHERE id = ANY($1::int[])`, [orderIds])).rows;
  } finally {
    await check.end();
  }
  const missing = linked.filter((o) => o.legacy_id === null).length;
  const eudc = loadEudcMap();
  const ro = new Database(file, { readonly: true });
  let badText = 0;
  try {
    const q = ro.prepare(`SELECT CAST(notes AS BLOB) AS notes FROM deliveries WHERE id = ?`);
    for (const o of linked) {
      if (o.legacy_id === null) continue;
      const row = q.get(o.legacy_id) as { notes: Buffer | null } | undefined;
      const d = row?.notes ? decodeCp950(row.notes, eudc) : null;
      if (!d || !d.ok || d.value !== o.notes) badText++;
    }
  } finally {
    ro.close();
  }
  if (added !== orderIds.length || missing || badText) {
    throw new Error(`write-back verification failed: ${added} legacy rows added for ${orderIds.length} orders, ${missing} orders without a legacy id, ${badText} notes not as written`);
  }
}

// ─────────────────────────────────── the whole bench ───────────────────────────────────

/** One size of the cost curve (--sizes): an initial load with a fresh file, database and workers. */
export interface SizePoint {
  deliveries: number;
  totalRows: number;
  seconds: number;
  rowsPerSecond: number;
  /** Peak RSS during the load, per process. */
  peakRssMb: Partial<Record<WorkerGroup, number>>;
  cpu: CpuSplit;
}

export interface BenchResults {
  machine: MachineInfo;
  options: BenchOptions;
  startedAt: string;
  finishedAt: string;
  legacyFile: Omit<LegacyFile, 'path'>;
  initialLoad: LoadResult;
  rawCopy: RawCopyResult | null;
  pgloader: PgloaderResult | null;
  /** The initial load against pgloader, round by round (--rounds); the first is the load above. */
  rounds: Round[];
  /** Initial load rate over pgloader's (the median of the rounds'), and over raw COPY's. */
  ratio: { pgloader: number | null; rawCopy: number | null };
  backfill: BackfillResult | null;
  incremental: IncrementalResult;
  lag: LagResult;
  writeBack: WriteBackResult;
  /** The cost curve over --sizes (the main size included); null without --sizes. */
  scale: { sizes: SizePoint[]; memorySpreadPct: number | null; rateDropPct: number | null } | null;
  targets: Target[];
}

const MEMORY_LIMIT_MB = 250;

function targets(r: Omit<BenchResults, 'targets'>): Target[] {
  const t: Target[] = [];
  const l = r.initialLoad;
  const rounds = (rate: (x: Round) => number | null) => (r.rounds.length > 1 ? ` (rounds: ${r.rounds.map((x) => rate(x) ?? 'incomplete').join(', ')})` : '');
  t.push({ metric: `initial load: the first cycle, ${l.totalRows} rows into an empty database`, value: `${l.seconds} s, ${l.rowsPerSecond} rows/s${rounds((x) => x.loadRowsPerSecond)}`, target: '', met: null });
  if (r.pgloader) {
    const same = r.pgloader.sameFile;
    t.push({ metric: 'pgloader, the legacy file itself', value: `${same.totalRows}/${l.totalRows} rows in ${same.seconds} s`, target: '', met: null });
    t.push({
      metric: r.pgloader.utf8Copy ? 'pgloader rate (UTF-8 copy of the file)' : 'pgloader rate',
      value: `${r.pgloader.rowsPerSecond ?? 'incomplete'} rows/s${rounds((x) => x.pgloaderRowsPerSecond)}`,
      target: '',
      met: null,
    });
  }
  const ofRounds = r.rounds.length > 1 ? ` (the median of the rounds: ${r.rounds.map((x) => x.ratio ?? 'incomplete').join(', ')})` : '';
  t.push({ metric: 'initial load / pgloader', value: r.ratio.pgloader === null ? 'not measured' : `${r.ratio.pgloader}${ofRounds}`, target: '>= 1.0', met: r.ratio.pgloader === null ? null : r.ratio.pgloader >= 1 });
  if (r.rawCopy) t.push({ metric: 'raw COPY of the same final rows (same schema, indexes, constraints, triggers)', value: `${r.rawCopy.seconds} s, ${r.rawCopy.rowsPerSecond} rows/s`, target: '', met: null });
  t.push({ metric: 'initial load / raw COPY', value: r.ratio.rawCopy === null ? 'not measured' : String(r.ratio.rawCopy), target: '', met: null });
  for (const p of l.processes) {
    t.push({ metric: `${p.group}: peak RSS (VmHWM, start-up included)`, value: `${p.lifetimePeakMb} MB`, target: `<= ${MEMORY_LIMIT_MB} MB`, met: p.lifetimePeakMb <= MEMORY_LIMIT_MB });
    t.push({ metric: `${p.group}: CPU during the initial load`, value: `${p.cpuSeconds} s (${p.cpuPer1000Rows} s / 1,000 rows)`, target: '', met: null });
  }
  if (r.backfill) t.push({ metric: `backfill after the load (every row read again, ${r.backfill.totalRows} rows)`, value: `${r.backfill.seconds} s, ${r.backfill.rowsPerSecond} rows/s`, target: '', met: null });
  t.push({ metric: `cycle, nothing changed (median of ${r.incremental.idleCycleMs.length})`, value: `${r.incremental.idleCycleMedianMs} ms`, target: '<= 100 ms', met: r.incremental.idleCycleMedianMs !== null && r.incremental.idleCycleMedianMs <= 100 });
  t.push({ metric: `cycle, ${r.incremental.changedRows} changed legacy rows (median of ${r.incremental.changedCyclesMs.length}: ${r.incremental.changedCyclesMs.join(', ')} ms)`, value: `${r.incremental.changedCycleMs} ms`, target: '<= 400 ms', met: r.incremental.changedCycleMs <= 400 });
  const lagTarget = (r.lag.intervalSeconds + 1) * 1000;
  t.push({ metric: `edit → visible lag, median (${r.lag.seen}/${r.lag.edits} edits)`, value: r.lag.medianMs === null ? 'none seen' : `${r.lag.medianMs} ms`, target: '', met: null });
  t.push({
    metric: `edit → visible lag, p95 (schedule every ${r.lag.intervalSeconds} s)`,
    value: r.lag.p95Ms === null ? 'none seen' : `${r.lag.p95Ms} ms`,
    target: `<= ${lagTarget} ms`,
    met: r.lag.p95Ms !== null && r.lag.seen === r.lag.edits && r.lag.p95Ms <= lagTarget,
  });
  t.push({ metric: `write-back, ${r.writeBack.orders} orders, one cycle (median of ${r.writeBack.cyclesMs.length}: ${r.writeBack.cyclesMs.join(', ')} ms)`, value: `${r.writeBack.cycleMs} ms (write-back run ${r.writeBack.writeBackRunMs} ms)`, target: '<= 400 ms', met: r.writeBack.cycleMs <= 400 });
  const s = r.scale;
  const curve = s ? s.sizes.map((p) => `${p.deliveries}: ${p.rowsPerSecond} rows/s, ${Object.values(p.peakRssMb).join('/')} MB`).join('; ') : '';
  const notMeasured = r.options.sizes.length ? 'pending (the --sizes loads had not finished when this was written)' : 'not measured (--sizes 1000000,3000000,10000000)';
  t.push({ metric: 'peak memory across sizes (spread)', value: s?.memorySpreadPct != null ? `${s.memorySpreadPct} % (${curve})` : notMeasured, target: '<= 10 %', met: s?.memorySpreadPct != null ? s.memorySpreadPct <= 10 : null });
  t.push({ metric: 'rate of the largest size against the smallest', value: s?.rateDropPct != null ? slowerOrFaster(s.rateDropPct) : notMeasured, target: '<= 15 %', met: s?.rateDropPct != null ? s.rateDropPct <= 15 : null });
  return t;
}

/** Spread of the peaks (largest over smallest, per process), and how much slower the largest size ran than the smallest. */
function scaleOf(sizes: SizePoint[]): NonNullable<BenchResults['scale']> {
  if (sizes.length < 2) return { sizes, memorySpreadPct: null, rateDropPct: null };
  const groups = [...new Set(sizes.flatMap((p) => Object.keys(p.peakRssMb) as WorkerGroup[]))];
  const spreads = groups.map((g) => {
    const peaks = sizes.map((p) => p.peakRssMb[g] ?? 0);
    return ((Math.max(...peaks) - Math.min(...peaks)) / Math.min(...peaks)) * 100;
  });
  const bySize = [...sizes].sort((a, b) => a.deliveries - b.deliveries);
  const first = bySize[0];
  const last = bySize[bySize.length - 1];
  return { sizes: bySize, memorySpreadPct: round(Math.max(...spreads), 1), rateDropPct: round(((first.rowsPerSecond - last.rowsPerSecond) / first.rowsPerSecond) * 100, 1) };
}

const sizePoint = (l: LoadResult): SizePoint => ({
  deliveries: l.deliveries,
  totalRows: l.totalRows,
  seconds: l.seconds,
  rowsPerSecond: l.rowsPerSecond,
  peakRssMb: Object.fromEntries(l.processes.map((p) => [p.group, p.peakRssMb])),
  cpu: l.cpu,
});

async function ensureStack(env: AppEnv): Promise<void> {
  try {
    const c = new pg.Client({ connectionString: env.DATABASE_URL, connectionTimeoutMillis: 3000 });
    await c.connect();
    await c.end();
  } catch {
    log('the local stack does not answer: luckygas-sync stack up');
    await stackUp(stackSettingsFromEnv(), log);
  }
}

/** `checkpoint` gets the results of the full suite before the --sizes backfills start (they take long). */
export async function runBench(opts: BenchOptions, checkpoint: (r: BenchResults) => void = () => {}): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  const machine = machineInfo(PROJECT_ROOT);
  let env = loadEnv({ ...process.env, LOG_LEVEL: 'warn' });
  await ensureStack(env);
  env = loadEnv({ ...process.env, LOG_LEVEL: 'warn' });
  const client = await connectClient(env);
  const stamp = `${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'luckygas-bench-'));
  const cleanup = new Cleanup();
  if (!opts.keep) cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  else log(`--keep: leaving ${dir} and the databases`);
  const settings = stackSettingsFromEnv();
  const stack: StackProcesses = {
    postmasterPid: settings.external.databaseUrl ? null : postmasterPid(settings.dataDir),
    temporalPort: settings.external.temporalAddress ? null : settings.temporalPort,
    redisPort: settings.external.redisUrl ? null : settings.redisPort,
  };
  const ctx: Ctx = { opts, env, client, stamp, dir, cleanup, stack };
  const onSignal = () => {
    log('interrupted: cleaning up');
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // 1. the initial load, and the rest of the phases on the same workers and file
    const legacy = makeLegacyFile(ctx, 'main', opts.deliveries);
    const sync = await startSync(ctx, 'main', legacy.path);
    const load = await initialLoad(ctx, sync, legacy, 'main', true);

    // 2. the floors: raw COPY of the same rows, pgloader on the same file (the workers idle)
    const raw = opts.skipRawCopy ? null : await rawCopyPhase(ctx, sync);
    const pgl = opts.skipPgloader ? null : await pgloaderPhase(ctx, legacy, sync);
    const rounds = pgl ? [roundOf(load.rowsPerSecond, pgl.result.rowsPerSecond), ...(await moreRounds(ctx, legacy, pgl))] : [];
    pgl?.close();
    const ratios = rounds.flatMap((r) => (r.ratio === null ? [] : [r.ratio]));
    const ratio = {
      pgloader: ratios.length === rounds.length && ratios.length > 0 ? median(ratios) : null,
      rawCopy: raw ? round(load.rowsPerSecond / raw.rowsPerSecond, 3) : null,
    };

    // 3.–6.
    const bf = opts.skipBackfill ? null : await backfill(ctx, sync, legacy);
    const edited = new Set<number>();
    const inc = await incremental(ctx, sync, legacy, edited);
    const lg = await lag(ctx, sync, legacy, edited);
    const wb = await writeBack(ctx, sync, legacy);
    for (const w of sync.workers) log(`${w.group}: lifetime peak over all phases ${mb(w.hwm())} MB`);
    await sync.stop();
    rmSync(legacy.path, { force: true });

    const assemble = (scale: BenchResults['scale']): BenchResults => {
      const partial = {
        machine,
        options: opts,
        startedAt,
        finishedAt: new Date().toISOString(),
        legacyFile: { counts: legacy.counts, totalRows: legacy.totalRows, generationSeconds: legacy.generationSeconds, fileMb: legacy.fileMb },
        initialLoad: load,
        rawCopy: raw,
        pgloader: pgl?.result ?? null,
        rounds,
        ratio,
        backfill: bf,
        incremental: inc,
        lag: lg,
        writeBack: wb,
        scale,
      };
      return { ...partial, targets: targets(partial) };
    };

    // 7. the cost curve: an initial load per size
    let scale: BenchResults['scale'] = null;
    if (opts.sizes.some((s) => s !== opts.deliveries)) checkpoint(assemble(null));
    if (opts.sizes.length) {
      const sizes: SizePoint[] = [];
      for (const size of opts.sizes) {
        if (size === opts.deliveries) {
          sizes.push(sizePoint(load));
          continue;
        }
        const label = `size${size}`;
        const file = makeLegacyFile(ctx, label, size);
        const s = await startSync(ctx, label, file.path);
        const r = await initialLoad(ctx, s, file, label, false);
        await s.stop();
        rmSync(file.path, { force: true });
        sizes.push(sizePoint(r));
        log(`size ${size}: ${r.rowsPerSecond} rows/s, peak RSS ${r.processes.map((p) => `${p.group} ${p.peakRssMb} MB`).join(', ')}`);
      }
      scale = scaleOf(sizes);
    }

    return assemble(scale);
  } finally {
    await cleanup.run();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await client.connection.close().catch(() => {});
  }
}

// ─────────────────────────────────── command line ───────────────────────────────────

const count = (v: string) => {
  const n = Number(v.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive whole number: ${v}`);
  return n;
};
const countList = (v: string) => v.split(/[ ,]+/).filter(Boolean).map((x) => count(x));

export function buildProgram(): Command {
  return new Command('bench')
    .description('measure the sync on the local stack: the initial load vs pgloader and raw COPY, a backfill, incremental cycles, lag, write-back, the cost curve')
    .option('--deliveries <n>', 'deliveries in the legacy file (default 1000000)', count)
    .option('--clients <n>', 'clients (default deliveries / 50, at least 200)', count)
    .option('--drivers <n>', 'drivers (default deliveries / 10,000, at least 20)', count)
    .option('--sizes <list>', 'the cost curve: an initial load at each of these delivery counts, each with a fresh file, database and workers (e.g. 1000000,3000000,10000000)', countList, [])
    .option('--split', 'run a core worker and a legacy agent, each a process of its own (CPU and memory per role), instead of one worker serving both')
    .option('--skip-pgloader', 'do not run pgloader')
    .option('--skip-raw-copy', 'do not measure a raw COPY of the loaded rows')
    .option('--skip-backfill', 'do not measure a backfill after the initial load')
    .option('--rounds <n>', 'rounds of the initial load against pgloader, one after the other; the ratio is their median (default 3, --quick 1)', count)
    .option('--quick', 'a smoke run: 100,000 deliveries, 10 lag edits')
    .option('--json <file>', 'also write the results as JSON to this file')
    .option('--lag-edits <n>', 'legacy edits for the lag measurement (default 30)', count)
    .option('--interval-seconds <n>', 'schedule interval for the lag measurement', count, 5)
    .option('--changed-rows <n>', 'legacy rows changed for the incremental cycle', count, 1000)
    .option('--write-back-orders <n>', 'orders created in PostgreSQL for the write-back cycle', count, 1000)
    .option('--keep', 'keep the temporary folder and databases (for a look afterwards)');
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.parse(process.argv);
  const o = program.opts<{
    deliveries?: number;
    clients?: number;
    drivers?: number;
    sizes: number[];
    skipPgloader?: boolean;
    quick?: boolean;
    json?: string;
    lagEdits?: number;
    intervalSeconds: number;
    changedRows: number;
    writeBackOrders: number;
    keep?: boolean;
    split?: boolean;
    skipRawCopy?: boolean;
    skipBackfill?: boolean;
    rounds?: number;
  }>();
  const opts: BenchOptions = {
    deliveries: o.deliveries ?? (o.quick ? 100_000 : 1_000_000),
    clients: o.clients,
    drivers: o.drivers,
    sizes: o.sizes,
    skipPgloader: Boolean(o.skipPgloader),
    quick: Boolean(o.quick),
    json: o.json,
    lagEdits: o.lagEdits ?? (o.quick ? 10 : 30),
    intervalSeconds: o.intervalSeconds,
    changedRows: o.changedRows,
    writeBackOrders: o.writeBackOrders,
    keep: Boolean(o.keep),
    split: Boolean(o.split),
    skipRawCopy: Boolean(o.skipRawCopy),
    skipBackfill: Boolean(o.skipBackfill),
    rounds: o.rounds ?? (o.quick ? 1 : 3),
  };
  log(`options: ${JSON.stringify(opts)}`);
  const save = (results: BenchResults) => {
    const json = `${JSON.stringify(results, null, 2)}\n`;
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json);
    writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdownReport(results));
    if (opts.json) writeFileSync(opts.json, json);
  };
  const results = await runBench(opts, (r) => {
    save(r);
    log('results of the full suite saved; now the --sizes backfills');
  });
  printReport(results);
  save(results);
  log(`results: ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'latest.md'))}${opts.json ? `, ${opts.json}` : ''}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`bench failed: ${err.message}\n`);
      if (err.stack && process.env.LOG_LEVEL === 'debug') process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    },
  );
}
