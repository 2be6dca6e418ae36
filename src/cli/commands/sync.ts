import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { loadEnv } from '../../config/env';
import { connectClient } from '../../temporal/connection';
import { cycleWorkflowId } from '../../temporal/ids';
import { rootMessage } from '../../temporal/failures';
import { withWorkerIfNone } from '../../temporal/inProcessWorker';
import type { CycleSummary } from '../../../workflows/syncCycle';
import { action, checkTables, EXIT, printJson, printTable } from '../output';

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
export async function runCycleOnce(tables: string[] | undefined, how: 'manual' | 'demo', log: (l: string) => void) {
  const env = loadEnv();
  checkTables(env.SYNC_TABLES_CONFIG, tables);
  const client = await connectClient(env);
  try {
    const workflowId = cycleWorkflowId(how, new Date());
    const summary = await withWorkerIfNone(
      client,
      env,
      async () => {
        const handle = await client.workflow.start('SyncCycleWorkflow', {
          taskQueue: env.TEMPORAL_TASK_QUEUE,
          workflowId,
          args: [{ tables }],
          staticSummary: tables ? `sync cycle: ${tables.join(', ')}` : 'sync cycle: all tables',
        });
        log(`started ${workflowId}`);
        return (await handle.result()) as CycleSummary;
      },
      log,
    );
    return { env, workflowId, summary };
  } finally {
    await client.connection.close();
  }
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
          const { env, workflowId, summary } = await runCycleOnce(opts.table, 'manual', (l) => process.stderr.write(`${l}\n`));
          if (opts.json) printJson({ workflowId, ...summary });
          else {
            printTable(summaryRows(summary));
            if (env.TEMPORAL_UI_URL) {
              process.stdout.write(`\nWeb UI: ${env.TEMPORAL_UI_URL}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}\n`);
            }
          }
        } catch (err) {
          if (err instanceof WorkflowFailedError) {
            process.stderr.write(`error: the sync cycle failed: ${rootMessage(err)}\n`);
            process.exitCode = EXIT.failed;
            return;
          }
          throw err;
        }
      }),
    );
}
