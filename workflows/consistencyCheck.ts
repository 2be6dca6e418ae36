import {
  ApplicationFailure,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  executeChild,
  ParentClosePolicy,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChunkReport, ChunkResult, TableCounts } from '../activities/consistency';
import type { RunSummary } from '../activities/legacyToNew';
import { rootMessage } from '../src/temporal/failures';
import { SyncOutcome, SyncRows } from '../src/temporal/searchAttributes';
import { TableSyncWorkflow } from './tableSync';
import { bookkeeping, longSteps } from './activities';

/**
 * Compares legacy and PostgreSQL: per table the exact counts (more than 1 % apart is a
 * warning) and a row-level comparison in key-ordered chunks, one activity per chunk (only
 * counts and samples of keys come back). With `repair`, the differences are re-synced
 * through the normal pipeline (a `retry` table sync per table, parents first) and the check
 * runs again; both reports are returned and stored in sync_consistency_reports.
 */

export interface ConsistencyCheckInput {
  tables?: string[];
  repair?: boolean;
  /** Legacy rows per chunk (default 5000). */
  chunkSize?: number;
  /** Carried over continue-as-new. */
  resume?: CheckState;
}

export interface TableReport extends Omit<ChunkReport, 'repairQueued' | 'notRepaired' | 'notRepairedSample'> {
  table: string;
  newTable: string;
  counts: TableCounts;
  /** Sum of missing in new, missing in legacy and differing. */
  differences: number;
  chunks: number;
  repair?: { queued: number; notRepaired: number; notRepairedSample: ChunkReport['notRepairedSample'] };
}

export interface CheckReport {
  differences: number;
  /** Tables whose counts are more than 1 % apart. */
  countWarnings: string[];
  tables: TableReport[];
}

export interface ConsistencyResult extends CheckReport {
  checkId: string;
  status: 'clean' | 'differences';
  repair: boolean;
  startedAt: string;
  finishedAt: string;
  /** With repair: the first check's report, and the table syncs that re-synced its differences. */
  beforeRepair?: CheckReport;
  repairRuns?: RunSummary[];
}

interface CheckState {
  phase: 'check' | 'recheck';
  tables: string[];
  newTables: Record<string, string>;
  chunkSize: number;
  startedAt: string;
  tableIndex: number;
  afterId: number | null;
  current: TableReport | null;
  done: TableReport[];
  beforeRepair?: CheckReport;
  repairRuns?: RunSummary[];
}

export const consistencyProgressQuery = defineQuery<{ phase: string; table: string | null; chunks: number; tablesDone: number }>('progress');


/** Chunks per workflow run before continuing as new (history stays small on millions of rows). */
const CHUNKS_PER_RUN = 200;
const SAMPLE = 20;

function emptyTable(table: string, newTable: string, counts: TableCounts): TableReport {
  return {
    table,
    newTable,
    counts,
    differences: 0,
    chunks: 0,
    legacyRows: 0,
    newRows: 0,
    matching: 0,
    missingInNew: 0,
    missingInLegacy: 0,
    differing: 0,
    heldBack: 0,
    deletedInBoth: 0,
    fields: {},
    samples: { missingInNew: [], missingInLegacy: [], differing: [], heldBack: [] },
  };
}

function merge(t: TableReport, c: ChunkResult, repair: boolean): void {
  t.chunks++;
  t.legacyRows += c.legacyRows;
  t.newRows += c.newRows;
  t.matching += c.matching;
  t.missingInNew += c.missingInNew;
  t.missingInLegacy += c.missingInLegacy;
  t.differing += c.differing;
  t.heldBack += c.heldBack;
  t.deletedInBoth += c.deletedInBoth;
  t.differences = t.missingInNew + t.missingInLegacy + t.differing;
  for (const [f, n] of Object.entries(c.fields)) t.fields[f] = (t.fields[f] ?? 0) + n;
  for (const k of ['missingInNew', 'missingInLegacy', 'differing', 'heldBack'] as const) {
    const into = t.samples[k] as unknown[];
    for (const s of c.samples[k]) if (into.length < SAMPLE) into.push(s);
  }
  if (repair) {
    t.repair ??= { queued: 0, notRepaired: 0, notRepairedSample: [] };
    t.repair.queued += c.repairQueued;
    t.repair.notRepaired += c.notRepaired;
    for (const s of c.notRepairedSample) if (t.repair.notRepairedSample.length < SAMPLE) t.repair.notRepairedSample.push(s);
  }
}

function summarise(tables: TableReport[]): CheckReport {
  return {
    differences: tables.reduce((n, t) => n + t.differences, 0),
    countWarnings: tables.filter((t) => t.counts.level === 'warning').map((t) => t.table),
    tables,
  };
}

export async function ConsistencyCheckWorkflow(input: ConsistencyCheckInput = {}): Promise<ConsistencyResult> {
  const opts = input ?? {};
  const checkId = workflowInfo().workflowId;
  const repair = opts.repair === true;
  if (opts.tables !== undefined && !Array.isArray(opts.tables)) throw ApplicationFailure.nonRetryable('tables must be a list of legacy table names', 'InvalidInput');

  let state: CheckState;
  if (opts.resume) {
    state = opts.resume;
  } else {
    const plan = await bookkeeping.beginConsistencyCheck({ checkId, tables: opts.tables, repair, chunkSize: opts.chunkSize });
    state = { phase: 'check', tables: plan.tables, newTables: plan.newTables, chunkSize: plan.chunkSize, startedAt: plan.startedAt, tableIndex: 0, afterId: null, current: null, done: [] };
  }
  setHandler(consistencyProgressQuery, () => ({
    phase: state.phase,
    table: state.tables[state.tableIndex] ?? null,
    chunks: state.current?.chunks ?? 0,
    tablesDone: state.done.length,
  }));

  try {
    let chunksThisRun = 0;
    for (;;) {
      // One pass over every table (the check, or the check after the repair).
      while (state.tableIndex < state.tables.length) {
        const table = state.tables[state.tableIndex];
        if (!state.current) {
          const counts = await bookkeeping.countConsistency({ table });
          state.current = emptyTable(table, state.newTables[table] ?? '', counts);
        }
        if (chunksThisRun >= CHUNKS_PER_RUN) {
          await continueAsNew<typeof ConsistencyCheckWorkflow>({ ...opts, resume: state });
        }
        const chunk = await longSteps.checkChunk({ checkId, table, afterId: state.afterId, chunkSize: state.chunkSize, repair: repair && state.phase === 'check' });
        chunksThisRun++;
        merge(state.current, chunk, repair && state.phase === 'check');
        state.afterId = chunk.nextAfterId;
        if (chunk.done) {
          state.done.push(state.current);
          state.current = null;
          state.afterId = null;
          state.tableIndex++;
        }
      }
      const report = summarise(state.done);
      const queued = state.done.filter((t) => (t.repair?.queued ?? 0) > 0).map((t) => t.table);
      if (state.phase === 'recheck' || !repair || queued.length === 0) {
        if (repair && state.phase === 'check') {
          state.beforeRepair = report;
          state.repairRuns = [];
        }
        return await finish(checkId, state, report, repair);
      }
      // Repair: the normal pipeline for exactly the queued rows, parents first, then check again.
      state.beforeRepair = report;
      state.repairRuns = [];
      for (const table of state.tables.filter((t) => queued.includes(t))) {
        state.repairRuns.push(
          await executeChild(TableSyncWorkflow, {
            workflowId: `consistency-repair/${table}/${checkId}`,
            args: [{ table, direction: 'legacy-to-new', kind: 'retry', parentId: checkId }],
            parentClosePolicy: ParentClosePolicy.TERMINATE,
            staticSummary: `repair ${table} (consistency check)`,
          }),
        );
      }
      state.phase = 'recheck';
      state.tableIndex = 0;
      state.afterId = null;
      state.current = null;
      state.done = [];
    }
  } catch (err) {
    if (!(err instanceof ContinueAsNew)) {
      await bookkeeping.finishConsistencyCheck({ checkId, status: 'failed', differences: 0, result: null, repair, error: rootMessage(err) });
      upsertSearchAttributes([{ key: SyncOutcome, value: 'failed' }]);
    }
    throw err;
  }
}

async function finish(checkId: string, state: CheckState, report: CheckReport, repair: boolean): Promise<ConsistencyResult> {
  const result: Omit<ConsistencyResult, 'finishedAt'> = {
    checkId,
    status: report.differences === 0 ? 'clean' : 'differences',
    repair,
    startedAt: state.startedAt,
    ...report,
    ...(repair ? { beforeRepair: state.beforeRepair, repairRuns: state.repairRuns } : {}),
  };
  const { finishedAt } = await bookkeeping.finishConsistencyCheck({ checkId, status: 'completed', differences: report.differences, result, repair });
  upsertSearchAttributes([
    { key: SyncRows, value: report.differences },
    { key: SyncOutcome, value: report.differences === 0 ? 'consistent' : 'differences' },
  ]);
  return { ...result, finishedAt };
}
