import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { loadEnv } from '../../config/env';
import { loadSyncConfig, tableConfig } from '../../config/tables';
import { ids, type RunSummary } from '../../shared';
import { BackfillWorkflow } from '../../../workflows';
import { runOneOff } from '../oneOffWorkflow';
import { action, printJson, printTable } from '../output';
import { followProgress, wantsProgress, type ProgressBar } from '../progress';

/** A backfill's progress query: rows read so far, of the legacy table's rows (the run knows how many once it began). */
function backfillBar(table: string): ProgressBar<{ read: number; total: number | null }, RunSummary> {
  return {
    format: '{table} [{bar}] {value}/{total} rows | {rate} rows/s | {eta_formatted} left',
    total: 0,
    payload: { table, rate: 0 },
    show: (p, seconds) => ({ value: p.read, ...(p.total !== null ? { total: p.total } : {}), payload: { rate: Math.round(p.read / Math.max(seconds, 0.001)) } }),
    // A backfill reads every row of its table once: what it read is the table's size.
    final: (r, seconds) => ({ value: r.read, total: r.read, payload: { rate: Math.round(r.read / Math.max(seconds, 0.001)) } }),
  };
}

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('sync every legacy row of tables from the beginning (resumable: runs again attach to the running backfill)')
    .option('-t, --table <table...>', 'tables, parents first (default: all configured, in dependency order)')
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (opts: { table?: string[]; json?: boolean }) => {
        const env = loadEnv();
        const config = loadSyncConfig(env.SYNC_TABLES_CONFIG);
        const tables = opts.table ?? config.tables.map((t) => t.legacyTable);
        tables.forEach((t) => tableConfig(config, t));
        const results = await runOneOff('backfill', env, async ({ client, start }) => {
          const out: RunSummary[] = [];
          for (const table of tables) {
            const workflowId = ids.backfill(table);
            let handle: WorkflowHandle<typeof BackfillWorkflow>;
            try {
              handle = await start(BackfillWorkflow, { workflowId, args: [{ table }], summary: `backfill ${table}` });
            } catch (err) {
              if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
              handle = client.workflow.getHandle<typeof BackfillWorkflow>(workflowId);
              process.stderr.write(`${workflowId} is already running: following it\n`);
            }
            out.push(await followProgress(handle, wantsProgress(opts.json) ? backfillBar(table) : null));
          }
          return out;
        });
        if (opts.json) printJson(results);
        else printTable(results.map((r) => ({ table: r.table, status: r.status, read: r.read, written: r.written, unchanged: r.unchanged, 'held back': r.heldBack, ms: r.ms })));
      }),
    );
}
