import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { loadEnv } from '../../config/env';
import { loadSyncConfig, tableConfig } from '../../config/tables';
import { ids, progressQuery, type RunSummary } from '../../shared';
import { BackfillWorkflow } from '../../../workflows';
import { runOneOff } from '../oneOffWorkflow';
import { action, printJson, printTable } from '../output';

/** Follows a backfill's progress query on a progress bar until it ends. */
async function follow(handle: WorkflowHandle<typeof BackfillWorkflow>, quiet: boolean): Promise<RunSummary> {
  const bar = quiet ? null : new SingleBar({ format: '{table} [{bar}] {value}/{total} rows | {rate} rows/s | {eta_formatted} left', etaBuffer: 20 }, Presets.shades_classic);
  const started = Date.now();
  bar?.start(0, 0, { table: handle.workflowId, rate: 0 });
  // One query at a time, and the last one settled before returning: the client retries a
  // query on a timer, and a retry after the connection closed would crash the process.
  let query: Promise<void> | undefined;
  const timer = setInterval(() => {
    query ??= handle
      .query(progressQuery)
      .then(
        (p) => {
          if (p.total !== null) bar?.setTotal(p.total);
          bar?.update(p.read, { rate: Math.round(p.read / ((Date.now() - started) / 1000)) });
        },
        () => {
          /* between continue-as-new runs the query may miss once */
        },
      )
      .finally(() => (query = undefined));
  }, 1000);
  try {
    const result = await handle.result();
    bar?.update(result.read);
    return result;
  } finally {
    clearInterval(timer);
    await query;
    bar?.stop();
  }
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
            out.push(await follow(handle, Boolean(opts.json) || !process.stderr.isTTY));
          }
          return out;
        });
        if (opts.json) printJson(results);
        else printTable(results.map((r) => ({ table: r.table, status: r.status, read: r.read, written: r.written, unchanged: r.unchanged, 'held back': r.heldBack, ms: r.ms })));
      }),
    );
}
