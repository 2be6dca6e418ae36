import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { loadSyncConfig, tableConfig } from '../../config/tables';
import { createPool } from '../../db/postgres';
import { ids, type RunSummary } from '../../shared';
import { listHeld } from '../../state/heldBack';
import { action, checkTables, printJson, printTable, wholeNumber } from '../output';

export function registerHeldBackCommands(program: Command): void {
  const held = program.command('held-back').description('rows that could not be synced exactly, with the reason and their raw bytes');

  held
    .command('list')
    .description('unresolved held-back rows (newest first)')
    .option('-t, --table <table>', 'only this table')
    .option('--all', 'include resolved rows')
    .option('--limit <n>', 'at most n rows', wholeNumber, 100)
    .option('--json', 'print as JSON, with the raw values (hex)')
    .action(
      action(async (opts: { table?: string; all?: boolean; limit: number; json?: boolean }) => {
        const env = loadEnv();
        checkTables(env.SYNC_TABLES_CONFIG, opts.table ? [opts.table] : undefined);
        const pool = createPool(env.DATABASE_URL, 1);
        try {
          const rows = await listHeld(pool, { table: opts.table, all: opts.all, limit: opts.limit });
          if (opts.json) return printJson(rows);
          if (rows.length === 0) return void process.stdout.write('no held-back rows\n');
          printTable(
            rows.map((r) => ({
              table: r.table,
              direction: r.direction,
              id: r.rowId,
              kind: r.reasonKind,
              reason: r.reason,
              attempts: r.attempts,
              'last seen': r.lastSeenAt,
              resolved: r.resolvedAt,
            })),
          );
        } finally {
          await pool.end();
        }
      }),
    );

  held
    .command('retry')
    .description('sync the held-back rows again (after fixing the source row or the EUDC map)')
    .option('-t, --table <table...>', 'only these tables (parents first)')
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (opts: { table?: string[]; json?: boolean }) => {
        const env = loadEnv();
        const config = loadSyncConfig(env.SYNC_TABLES_CONFIG);
        const tables = (opts.table ?? config.tables.map((t) => t.legacyTable)).map((t) => tableConfig(config, t).legacyTable);
        // Loaded here: `held-back list` has no use for Temporal's client (~0.3 s to load).
        const [{ runOneOff }, { QueueSyncWorkflow }] = await Promise.all([import('../oneOffWorkflow'), import('../../../workflows')]);
        const results = await runOneOff('held-back retry', env, async ({ start }) => {
          const out: RunSummary[] = [];
          for (const table of tables) {
            const handle = await start(QueueSyncWorkflow, {
              workflowId: ids.retry(table, new Date().toISOString()),
              args: [{ table, queue: 'held' }],
              summary: `held-back retry ${table}`,
            });
            out.push(await handle.result());
          }
          return out;
        });
        if (opts.json) return printJson(results);
        printTable(results.map((r) => ({ table: r.table, retried: r.read, written: r.written, 'still held': r.heldBack })));
      }),
    );
}
