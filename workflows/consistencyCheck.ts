import { ApplicationFailure, ContinueAsNew, continueAsNew, executeChild, ParentClosePolicy, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  CHECK_CHUNK_SIZE,
  CHECK_SAMPLE,
  emptyChunkReport,
  ids,
  type CheckReport,
  type CheckState,
  type ChunkReport,
  type ConsistencyCheckInput,
  type ConsistencyResult,
  type TableCounts,
  type TableReport,
} from '../src/shared';
import { checkProgressQuery } from '../src/messages';
import { rootMessage } from '../src/temporal/failures';
import { SyncRows } from '../src/temporal/searchAttributes';
import { bookkeeping, legacy, longSteps, operatorSteps } from './activities';
import { recordedRun } from './runs';
import { QueueSyncWorkflow } from './tableSync';

/**
 * Compares legacy and PostgreSQL: per table the exact counts (more than 1 % apart is a
 * warning) and a row-level comparison in key-ordered chunks: the legacy agent captures a
 * chunk, a core worker compares it (only counts and samples of keys come back). With
 * `repair`, the differences are re-synced through the normal pipeline (the repair queue, one
 * run per table, parents first) and the check runs again; both reports are returned and
 * stored in sync_consistency_reports. The check is a run, and its repairs runs under it.
 */

/** Chunks per workflow run before continuing as new (history stays small on millions of rows). */
const CHUNKS_PER_RUN = 200;
function emptyTable(table: string, newTable: string, counts: TableCounts): TableReport {
  const { repairQueued: _q, notRepaired: _n, notRepairedSample: _s, ...chunk } = emptyChunkReport();
  return { table, newTable, counts, differences: 0, chunks: 0, ...chunk };
}

function merge(t: TableReport, c: ChunkReport, repair: boolean): void {
  t.chunks++;
  t.legacyRows += c.legacyRows;
  t.newRows += c.newRows;
  t.matching += c.matching;
  t.missingInNew += c.missingInNew;
  t.missingInLegacy += c.missingInLegacy;
  t.differing += c.differing;
  t.heldBack += c.heldBack;
  t.waiting += c.waiting;
  t.deletedInBoth += c.deletedInBoth;
  t.differences = t.missingInNew + t.missingInLegacy + t.differing;
  for (const [f, n] of Object.entries(c.fields)) t.fields[f] = (t.fields[f] ?? 0) + n;
  for (const k of ['missingInNew', 'missingInLegacy', 'differing', 'heldBack'] as const) {
    const into = t.samples[k] as unknown[];
    for (const s of c.samples[k]) if (into.length < CHECK_SAMPLE) into.push(s);
  }
  if (repair) {
    t.repair ??= { queued: 0, notRepaired: 0, notRepairedSample: [] };
    t.repair.queued += c.repairQueued;
    t.repair.notRepaired += c.notRepaired;
    for (const s of c.notRepairedSample) if (t.repair.notRepairedSample.length < CHECK_SAMPLE) t.repair.notRepairedSample.push(s);
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
    const chunkSize = Math.max(1, Math.min(opts.chunkSize ?? CHECK_CHUNK_SIZE, 50_000));
    const plan = await bookkeeping().beginCheck({ checkId, tables: opts.tables, repair, chunkSize });
    state = { phase: 'check', tables: plan.tables, newTables: plan.newTables, chunkSize, startedAt: plan.startedAt, tableIndex: 0, afterId: null, current: null, done: [] };
  }
  setHandler(checkProgressQuery, () => ({
    phase: state.phase,
    table: state.tables[state.tableIndex] ?? null,
    chunks: state.current?.chunks ?? 0,
    tablesDone: state.done.length,
    tables: state.tables.length,
  }));

  let result: ConsistencyResult | undefined;
  await recordedRun(
    checkId,
    async () => {
      try {
        result = await check(checkId, state, opts, repair);
      } catch (err) {
        if (!(err instanceof ContinueAsNew)) await bookkeeping().finishCheck({ checkId, status: 'failed', differences: 0, result: { error: rootMessage(err) } });
        throw err;
      }
    },
    () => (result!.differences === 0 ? 'consistent' : 'differences'),
  );
  upsertSearchAttributes([{ key: SyncRows, value: result!.differences }]);
  return result!;
}

async function check(checkId: string, state: CheckState, opts: ConsistencyCheckInput, repair: boolean): Promise<ConsistencyResult> {
  let chunksThisRun = 0;
  for (;;) {
    // One pass over every table (the check, or the check after the repair).
    while (state.tableIndex < state.tables.length) {
      const table = state.tables[state.tableIndex];
      if (!state.current) {
        const legacyRows = await legacy.countLegacy({ table });
        state.current = emptyTable(table, state.newTables[table] ?? '', await operatorSteps.countNew({ table, legacy: legacyRows }));
      }
      if (chunksThisRun >= CHUNKS_PER_RUN) await continueAsNew<typeof ConsistencyCheckWorkflow>({ ...opts, resume: state });
      const batchKey = `${checkId}#${state.phase}#${table}#${state.current.chunks}`;
      const captured = await legacy.captureCheckChunk({ table, batchKey, afterId: state.afterId, chunkSize: state.chunkSize });
      const chunk = await longSteps.compareChunk({ checkId, table, batchKey, lower: state.afterId, upper: captured.done ? null : captured.lastId, repair: repair && state.phase === 'check' });
      chunksThisRun++;
      merge(state.current, chunk, repair && state.phase === 'check');
      state.afterId = captured.lastId;
      if (captured.done) {
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
      return finish(checkId, state, report, repair);
    }
    // Repair: the normal pipeline for exactly the queued rows, parents first, then check again.
    state.beforeRepair = report;
    state.repairRuns = [];
    for (const table of state.tables.filter((t) => queued.includes(t))) {
      state.repairRuns.push(
        await executeChild(QueueSyncWorkflow, {
          workflowId: ids.repair(table, checkId),
          args: [{ table, queue: 'repair', parentId: checkId }],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
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
  const { finishedAt } = await bookkeeping().finishCheck({ checkId, status: 'completed', differences: report.differences, result });
  return { ...result, finishedAt };
}
