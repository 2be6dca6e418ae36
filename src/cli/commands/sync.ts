import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { ids, type CycleSummary } from '../../shared';
import { SyncCycleWorkflow } from '../../../workflows';
import { CliError } from '../output';
import { runOneWorkflow, webUiLink } from '../oneOffWorkflow';
import { action, checkTables, printJson, printTable } from '../output';

export function summaryRows(summary: CycleSummary) {
  return summary.tables.map((t) => ({
    table: t.table,
    direction: t.direction,
    status: t.status,
    read: t.read,
    written: t.written,
    unchanged: t.unchanged,
    'held back': t.heldBack,
    conflicts: t.conflicts,
    ms: t.ms,
    ...(t.reason ? { why: t.reason } : {}),
  }));
}

/** Runs one cycle on Temporal and waits for it. */
export async function runCycleOnce(tables: string[] | undefined, how: 'manual' | 'demo') {
  const env = loadEnv();
  checkTables(env.SYNC_TABLES_CONFIG, tables);
  const workflowId = ids.cycle(how, new Date().toISOString());
  const summary = await runOneWorkflow('sync cycle', env, SyncCycleWorkflow, {
    workflowId,
    args: [{ tables }],
    summary: tables ? `sync cycle: ${tables.join(', ')}` : 'sync cycle: all tables',
  });
  return { env, workflowId, summary };
}

export function registerSyncCommands(program: Command): void {
  program
    .command('sync-once')
    .description('run one sync cycle on Temporal (all tables, or --table), wait for it, print the per-table summary')
    .option('-t, --table <table...>', 'only these legacy tables (clients, drivers, deliveries)')
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (opts: { table?: string[]; json?: boolean }) => {
        try {
          const { env, workflowId, summary } = await runCycleOnce(opts.table, 'manual');
          if (opts.json) return printJson({ workflowId, ...summary });
          printTable(summaryRows(summary));
          const link = webUiLink(env, workflowId);
          if (link) process.stdout.write(`\nWeb UI: ${link}\n`);
        } catch (err) {
          // A failed cycle still says what each table did.
          const summary = err instanceof CliError ? (err.details as CycleSummary | undefined) : undefined;
          if (summary?.tables) {
            if (opts.json) printJson({ ...summary, failed: err instanceof Error ? err.message : String(err) });
            else printTable(summaryRows(summary));
          }
          throw err;
        }
      }),
    );
}
