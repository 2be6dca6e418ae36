import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { cycleWorkflowId } from '../../temporal/ids';
import type { CycleSummary } from '../../../workflows/syncCycle';
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
  }));
}

/** Runs one cycle on Temporal and waits for it. */
export async function runCycleOnce(tables: string[] | undefined, how: 'manual' | 'demo') {
  const env = loadEnv();
  checkTables(env.SYNC_TABLES_CONFIG, tables);
  const workflowId = cycleWorkflowId(how, new Date());
  const summary = await runOneWorkflow<CycleSummary>('sync cycle', env, 'SyncCycleWorkflow', {
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
        const { env, workflowId, summary } = await runCycleOnce(opts.table, 'manual');
        if (opts.json) return printJson({ workflowId, ...summary });
        printTable(summaryRows(summary));
        const link = webUiLink(env, workflowId);
        if (link) process.stdout.write(`\nWeb UI: ${link}\n`);
      }),
    );
}
