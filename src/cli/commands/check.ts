import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { ids, type CheckReport, type ConsistencyResult } from '../../shared';
import { ConsistencyCheckWorkflow } from '../../../workflows';
import { runOneOff, webUiLink } from '../oneOffWorkflow';
import { action, checkTables, EXIT, printJson, printTable } from '../output';
import { followProgress, wantsProgress, type ProgressBar } from '../progress';

function reportRows(report: CheckReport) {
  return report.tables.map((t) => ({
    table: `${t.table} → ${t.newTable}`,
    legacy: t.counts.legacy,
    new: t.counts.newLive,
    count: t.counts.level === 'ok' ? 'ok' : `warning (±${t.counts.difference})`,
    matching: t.matching,
    'missing in new': t.missingInNew,
    'missing in legacy': t.missingInLegacy,
    differing: t.differing,
    'held back': t.heldBack,
    'waiting for a parent': t.waiting,
    'new, not written back': t.counts.newUnlinked,
  }));
}

function printSamples(report: CheckReport): void {
  for (const t of report.tables) {
    if (t.differences === 0) continue;
    const ids = (xs: { legacyId: number }[]) => xs.map((x) => x.legacyId).join(', ');
    if (t.missingInNew) process.stdout.write(`  ${t.table}: missing in new, e.g. legacy id ${ids(t.samples.missingInNew)}\n`);
    if (t.missingInLegacy) process.stdout.write(`  ${t.table}: missing in legacy, e.g. legacy id ${ids(t.samples.missingInLegacy)}\n`);
    if (t.differing) {
      const fields = Object.entries(t.fields).map(([f, n]) => `${f} ${n}`).join(', ');
      process.stdout.write(`  ${t.table}: differing (${fields}), e.g.\n`);
      for (const d of t.samples.differing.slice(0, 5)) {
        process.stdout.write(`    legacy id ${d.legacyId} (new id ${d.newId ?? '-'}): ${d.fields.join(', ')}${d.reason ? ` — ${d.reason}` : ''}\n`);
      }
    }
  }
}

/** The check's progress query: tables done of those checked, and the chunks of the current one. */
function checkBar(tables: number): ProgressBar<{ phase: string; table: string | null; chunks: number; tablesDone: number }, ConsistencyResult> {
  return {
    format: 'check [{bar}] {value}/{total} tables | {doing}',
    total: tables,
    payload: { doing: 'starting' },
    show: (p) => ({ value: p.tablesDone, payload: { doing: p.table ? `${p.phase === 'recheck' ? 'after repair, ' : ''}${p.table}: ${p.chunks} chunks compared` : p.phase } }),
    final: (r) => ({ value: r.tables.length, total: r.tables.length, payload: { doing: 'done' } }),
  };
}

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('compare legacy and PostgreSQL row by row (counts, missing, differing, held back); --repair re-syncs the differences and checks again. Exit 1 while differences remain.')
    .option('-t, --table <table...>', 'only these legacy tables (clients, drivers, deliveries)')
    .option('--repair', 're-sync missing and differing rows through the normal pipeline, then check again')
    .option('--json', 'print the full report as JSON')
    .action(
      action(async (opts: { table?: string[]; repair?: boolean; json?: boolean }) => {
        const env = loadEnv();
        checkTables(env.SYNC_TABLES_CONFIG, opts.table);
        const workflowId = ids.check('manual', new Date().toISOString());
        const tables = opts.table?.length ?? loadSyncConfig(env.SYNC_TABLES_CONFIG).tables.length;
        const result = await runOneOff('consistency check', env, async ({ start }) => {
          const handle = await start(ConsistencyCheckWorkflow, {
            workflowId,
            args: [{ tables: opts.table, repair: opts.repair === true }],
            summary: `consistency check${opts.repair ? ' with repair' : ''}: ${opts.table ? opts.table.join(', ') : 'all tables'}`,
          });
          return followProgress(handle, wantsProgress(opts.json) ? checkBar(tables) : null);
        });
        if (opts.json) printJson(result);
        else {
          if (result.beforeRepair) {
            process.stdout.write(`before repair: ${result.beforeRepair.differences} difference(s)\n`);
            printTable(reportRows(result.beforeRepair));
            const runs = result.repairRuns ?? [];
            process.stdout.write(`\nrepaired through ${runs.length} table sync(s): ${runs.map((r) => `${r.table} ${r.written} written, ${r.heldBack} held back`).join('; ') || 'nothing to repair'}\n\nafter repair:\n`);
          }
          printTable(reportRows(result));
          printSamples(result);
          process.stdout.write(`\n${result.differences === 0 ? 'consistent' : `${result.differences} difference(s)`}${result.countWarnings.length ? `; counts more than 1 % apart: ${result.countWarnings.join(', ')}` : ''}\n`);
          const link = webUiLink(env, workflowId);
          if (link) process.stdout.write(`Web UI: ${link}\n`);
        }
        if (result.differences > 0) process.exitCode = EXIT.failed;
      }),
    );
}
