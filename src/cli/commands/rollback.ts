import type { Command } from 'commander';
import { ConfigError, loadEnv } from '../../config/env';
import { ids, type RollbackResult } from '../../shared';
import { RollbackWorkflow } from '../../../workflows';
import { runOneOff } from '../oneOffWorkflow';
import { action, EXIT, printJson, printTable } from '../output';
import { followProgress, wantsProgress, type ProgressBar } from '../progress';

/** The rollback's progress query: rows dealt with (restored, already restored or skipped) of those selected. */
function rollbackBar(dryRun: boolean): ProgressBar<{ restored: number; alreadyRestored: number; conflicts: number; rows: number }, RollbackResult> {
  return {
    format: `${dryRun ? 'dry-run ' : ''}rollback [{bar}] {value}/{total} rows | {restored} ${dryRun ? 'to restore' : 'restored'}, {conflicts} conflicts`,
    total: 0,
    payload: { restored: 0, conflicts: 0 },
    show: (p) => ({ value: p.restored + p.alreadyRestored + p.conflicts, total: p.rows, payload: { restored: p.restored, conflicts: p.conflicts } }),
    final: (r) => ({ value: r.restored + r.alreadyRestored + r.conflictCount, total: r.rows, payload: { restored: r.restored, conflicts: r.conflictCount } }),
  };
}

interface RollbackOptions {
  run?: string;
  since?: string;
  table?: string[];
  dryRun?: boolean;
  force?: boolean;
  resumeSchedule?: boolean;
  json?: boolean;
}

export function registerRollbackCommand(program: Command): void {
  program
    .command('rollback')
    .description(
      'undo one sync run (--run, e.g. a sync-cycle workflow id) or everything since a time (--since): restores the journal\'s before-images on both sides, ' +
        'pauses the sync schedule (resumed only with --resume-schedule). Rows changed after the run are conflicts, skipped unless --force. Exit 1 when rows were skipped.',
    )
    .option('--run <id>', 'the sync run to undo (its table runs included)')
    .option('--since <time>', 'undo every sync change since this ISO-8601 time')
    .option('-t, --table <table...>', 'with --since: only these tables (legacy or new names)')
    .option('--dry-run', 'report what would be restored and what conflicts; change nothing')
    .option('--force', 'restore rows changed after the run too (overwrites those changes)')
    .option('--resume-schedule', 'resume the sync schedule when the rollback is done')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: RollbackOptions) => {
        if ((opts.run === undefined) === (opts.since === undefined)) throw new ConfigError('give exactly one of --run ID or --since TIME');
        if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) throw new ConfigError(`--since '${opts.since}' is not an ISO-8601 time`);
        const env = loadEnv();
        const input = {
          ...(opts.run !== undefined ? { runId: opts.run } : { since: opts.since, tables: opts.table }),
          dryRun: opts.dryRun === true,
          force: opts.force === true,
          resumeSchedule: opts.resumeSchedule === true,
        };
        const result = await runOneOff('rollback', env, async ({ start }) => {
          const handle = await start(RollbackWorkflow, {
            workflowId: ids.rollback(new Date().toISOString()),
            args: [input],
            summary: `${input.dryRun ? 'dry-run ' : ''}rollback of ${opts.run ?? `everything since ${opts.since}`}`,
          });
          return followProgress(handle, wantsProgress(opts.json) ? rollbackBar(input.dryRun) : null);
        });
        if (opts.json) printJson(result);
        else {
          const verb = result.dryRun ? 'would restore' : 'restored';
          printTable([
            {
              rollback: result.rollbackId,
              'journal entries': result.entries,
              rows: result.rows,
              [verb]: result.restored,
              'already restored': result.alreadyRestored,
              conflicts: result.conflictCount,
              'orders to write back again': result.requeuedOrders,
            },
          ]);
          if (result.conflicts.length > 0) {
            process.stdout.write(`\nskipped (${result.force ? '' : 'use --force to overwrite; '}first ${result.conflicts.length}):\n`);
            printTable(result.conflicts.map((c) => ({ side: c.side, table: c.table, row: c.rowId, 'legacy id': c.legacyId ?? null, reason: c.reason })));
          }
          for (const [table, rows] of Object.entries(result.reread)) {
            if (rows > 0) process.stdout.write(`${table}: ${rows} legacy rows queued to be read again by the next cycle (their new rows were restored)\n`);
          }
          if (result.reopened > 0) process.stdout.write(`${result.reopened} conflict review(s) open again (their resolution was undone): luckygas-sync conflicts list\n`);
          process.stdout.write(`schedule: ${result.schedule.paused}; resumed: ${result.schedule.resumed}\n`);
          if (!result.dryRun && result.schedule.resumed !== 'resumed') process.stdout.write('resume it with: luckygas-sync schedule resume\n');
        }
        if (result.conflictCount > 0) process.exitCode = EXIT.failed;
      }),
    );
}
