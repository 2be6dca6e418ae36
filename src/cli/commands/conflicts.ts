import type { Command } from 'commander';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ConfigError, loadEnv } from '../../config/env';
import { createPool } from '../../db/postgres';
import { resolveConflictUpdate } from '../../messages';
import { ids, type ConflictResolution } from '../../shared';
import { getConflict, listConflicts, type ConflictEntry } from '../../state/conflicts';
import { rootMessage } from '../../temporal/failures';
import { connectForWork } from '../oneOffWorkflow';
import { action, CliError, EXIT, printJson, printTable, wholeNumber } from '../output';

/** Rows both sides changed, column by column; manual ones wait here for an operator. */
export function registerConflictCommands(program: Command): void {
  const conflicts = program.command('conflicts').description('conflicts: rows both sides changed; manual ones wait for review (conflicts resolve)');

  conflicts
    .command('list')
    .description('conflicts, newest first (open ones by default)')
    .option('--all', 'every conflict, resolved ones too')
    .option('-t, --table <table>', 'only this legacy table')
    .option('--limit <n>', 'at most n', wholeNumber, 100)
    .option('--json', 'print as JSON (each with its id)')
    .action(
      action(async (opts: { all?: boolean; table?: string; limit: number; json?: boolean }) => {
        const env = loadEnv();
        const pool = createPool(env.DATABASE_URL, 1);
        try {
          const rows = await listConflicts(pool, { status: opts.all ? undefined : 'open', table: opts.table, limit: opts.limit });
          if (opts.json) return printJson(rows);
          if (rows.length === 0) return void process.stdout.write(opts.all ? 'no conflicts\n' : 'no open conflicts\n');
          printTable(
            rows.map((c) => ({
              id: c.id,
              table: c.table,
              'legacy id': c.legacyId,
              'new id': c.newId,
              kind: c.kind,
              status: c.status,
              rule: c.rule,
              outcome: c.outcome,
              columns: (c.columns ?? []).map((x) => x.column).join(', ') || '-',
              since: c.createdAt,
            })),
          );
        } finally {
          await pool.end();
        }
      }),
    );

  conflicts
    .command('show <id>')
    .description('one conflict: base, legacy, new and result, column by column')
    .option('--json', 'print as JSON')
    .action(
      action(async (id: string, opts: { json?: boolean }) => {
        const env = loadEnv();
        const pool = createPool(env.DATABASE_URL, 1);
        try {
          const c = await getConflict(pool, conflictId(id));
          if (!c) throw new CliError(`no conflict ${id}`, EXIT.failed);
          if (opts.json) return printJson(c);
          showConflict(c);
        } finally {
          await pool.end();
        }
      }),
    );

  conflicts
    .command('resolve <id>')
    .description('resolve an open conflict: the result goes to both sides through the pipeline, journaled (undo it with rollback --run conflict-resolution/<id>)')
    .requiredOption('--take <side>', 'legacy (legacy\'s latest version), new (the new row as it is) or merged (both sides\' changes; give the columns in conflict with --set)')
    .option('--set <column=value...>', 'a value for a column of the new table (repeatable)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (id: string, opts: { take: string; set?: string[]; json?: boolean }) => {
        if (!['legacy', 'new', 'merged'].includes(opts.take)) throw new ConfigError(`--take must be legacy, new or merged, not '${opts.take}'`);
        const set: Record<string, string | null> = {};
        for (const kv of opts.set ?? []) {
          const eq = kv.indexOf('=');
          if (eq <= 0) throw new ConfigError(`--set ${kv}: expected column=value`);
          const value = kv.slice(eq + 1);
          set[kv.slice(0, eq)] = value === '' || value.toUpperCase() === 'NULL' ? null : value;
        }
        const resolution: ConflictResolution = { take: opts.take as ConflictResolution['take'], ...(opts.set ? { set } : {}), by: process.env.USER ?? 'cli' };
        const env = loadEnv();
        const client = await connectForWork(env);
        try {
          const handle = client.workflow.getHandle(ids.review(conflictId(id)));
          const result = await handle.executeUpdate(resolveConflictUpdate, { args: [resolution] });
          if (opts.json) return printJson(result);
          process.stdout.write(`conflict ${result.conflictId} resolved (${resolution.take}) by run ${result.runId}${result.writtenBack ? '; written back to legacy' : ''}\n`);
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) throw new CliError(`conflict ${id} not resolved: ${rootMessage(err)}`, EXIT.failed);
          if ((err as Error).name === 'WorkflowNotFoundError') throw new CliError(`no open review for conflict ${id} (see conflicts list)`, EXIT.failed);
          throw err;
        } finally {
          await client.connection.close();
        }
      }),
    );
}

function conflictId(id: string): number {
  if (!/^\d+$/.test(id)) throw new ConfigError(`conflict id must be a number, not '${id}'`);
  return Number(id);
}

function showConflict(c: ConflictEntry): void {
  process.stdout.write(`conflict ${c.id}: ${c.table} legacy id ${c.legacyId ?? '-'}, new id ${c.newId ?? '-'} — ${c.kind}, ${c.status}, rule ${c.rule}, outcome ${c.outcome}, since ${c.createdAt}\n\n`);
  const show = (v: unknown) => (v === undefined ? '-' : JSON.stringify(v));
  const columns = c.columns ?? [];
  if (columns.length > 0) {
    // Each side as it is now: later edits of a row under review update its versions.
    const side = (image: Record<string, unknown> | null, column: string, recorded: unknown) => (c.status === 'open' && image ? image[column] : recorded);
    printTable(
      columns.map((x) => ({
        column: x.column,
        base: show(x.base),
        legacy: show(side(c.legacy, x.column, x.legacy)),
        new: show(side(c.new, x.column, x.new)),
        result: x.result === null && x.rule === 'manual' ? '(you decide)' : show(x.result),
        rule: x.rule,
      })),
    );
  } else {
    printTable([
      { side: 'legacy', row: c.legacy === null ? '(deleted)' : show(c.legacy) },
      { side: 'new', row: c.new === null ? '(deleted)' : show(c.new) },
    ]);
  }
  if (c.status === 'open') process.stdout.write(`\nresolve: luckygas-sync conflicts resolve ${c.id} --take legacy|new|merged [--set column=value]\n`);
}
