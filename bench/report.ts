import type { Breakdown } from './history';
import type { BenchResults } from './run';

/** The bench's results as a table on stdout and as the Markdown kept in bench/results/. */

export interface Target {
  metric: string;
  value: string;
  target: string;
  /** null: no target (information only) or not measured. */
  met: boolean | null;
}

const metText = (m: boolean | null) => (m === null ? '' : m ? 'yes' : 'NO');

function textTable(rows: string[][]): string {
  const width = (s: string) => [...s].reduce((n, ch) => n + (/[\u1100-\uFFEF]/u.test(ch) ? 2 : 1), 0);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => width(r[i]))));
  const line = (r: string[]) => r.map((v, i) => v + ' '.repeat(widths[i] - width(v))).join('  ').trimEnd();
  return [line(rows[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

function mdTable(rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${rows[0].map(esc).join(' | ')} |`, `|${rows[0].map(() => ' --- ').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const targetRows = (r: BenchResults) => [['metric', 'value', 'target', 'met?'], ...r.targets.map((t) => [t.metric, t.value, t.target, metText(t.met)])];

function breakdownRows(b: Breakdown): string[][] {
  const rows = [['activity', 'count', 'total run ms', 'mean ms', 'p95 ms', 'queued ms (sched→start)']];
  for (const [name, a] of Object.entries(b.activities).sort((x, y) => y[1].runMs - x[1].runMs)) {
    rows.push([name, String(a.count), String(a.runMs), String(a.meanRunMs), String(a.p95RunMs ?? ''), String(a.queueMs)]);
  }
  return rows;
}

function childRows(b: Breakdown): string {
  return b.children.length ? `Child workflows: ${b.children.map((c) => `${c.workflowId.split('/').slice(0, 3).join('/')} ${c.wallMs} ms`).join(', ')}.` : '';
}

function breakdownSummary(b: Breakdown): string {
  const pct = (x: number) => (b.wallMs ? `${Math.round((x / b.wallMs) * 100)} %` : '-');
  return (
    `${b.runs} workflow run(s), ${b.wallMs} ms of workflow wall time: activities running ${b.activityRunMs} ms (${pct(b.activityRunMs)}), ` +
    `activities queued ${b.activityQueueMs} ms (${pct(b.activityQueueMs)}), between steps (workflow-task round trips) ${b.betweenStepsMs} ms (${pct(b.betweenStepsMs)}); ` +
    `${b.workflowTasks.count} workflow tasks, mean ${b.workflowTasks.meanMs} ms scheduled → completed`
  );
}

export function printReport(r: BenchResults): void {
  const out: string[] = [];
  out.push('');
  out.push(textTable(targetRows(r)));
  out.push('');
  out.push(
    `backfill per table: ${r.backfill.tables.map((t) => `${t.table} ${t.read} rows in ${t.seconds} s (${t.rowsPerSecond} rows/s)`).join('; ')}`,
  );
  out.push(`CPU seconds during the backfill (${r.backfill.seconds} s wall): ${Object.entries(r.backfill.cpu).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.backfill.breakdown) {
    out.push('');
    out.push('where the deliveries backfill spent its time (Temporal history):');
    out.push(breakdownSummary(r.backfill.breakdown));
    out.push(textTable(breakdownRows(r.backfill.breakdown)));
  }
  if (r.incremental.breakdown) {
    out.push('');
    out.push(`the ${r.incremental.changedRows}-row cycle: ${breakdownSummary(r.incremental.breakdown)}`);
    out.push(textTable(breakdownRows(r.incremental.breakdown)));
  }
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
}

function cycleRows(rows: BenchResults['incremental']['changedCycle']): string[][] {
  return [
    ['table', 'direction', 'status', 'read', 'written', 'unchanged', 'held back', 'conflicts', 'ms'],
    ...rows.map((t) => [t.table, t.direction, t.status, t.read, t.written, t.unchanged, t.heldBack, t.conflicts, t.ms].map(String)),
  ];
}

export function markdownReport(r: BenchResults): string {
  const m = r.machine;
  const b = r.backfill;
  const lines: string[] = [];
  lines.push(`# luckygas-sync bench: latest results${r.options.quick ? ' (--quick smoke run)' : ''}`);
  lines.push('');
  lines.push(`Written by \`npm run bench\` (bench/run.ts); the same data is in latest.json.`);
  lines.push('');
  lines.push('## Machine');
  lines.push('');
  lines.push(`- date: ${m.date} (run ${r.startedAt} → ${r.finishedAt})`);
  lines.push(`- host: ${m.hostname}, ${m.os}`);
  lines.push(`- CPU: ${m.cpuModel} × ${m.cpuCount}`);
  lines.push(`- memory: ${m.totalMemoryGiB} GiB`);
  lines.push(`- load average at the start: ${m.loadAverage.join(', ')} (other work on the machine competes for the same cores: see \`other\` in the CPU figures)`);
  lines.push(`- Node ${m.node}${m.commit ? `, commit ${m.commit}` : ''}`);
  lines.push(`- options: \`${JSON.stringify(r.options)}\``);
  lines.push('');
  lines.push('## Results');
  lines.push('');
  lines.push(mdTable(targetRows(r)));
  const otherShare = b.cpu.other / b.seconds / m.cpuCount;
  if (otherShare > 0.2) {
    lines.push('');
    lines.push(
      `**Note:** other processes on the machine used ${Math.round(otherShare * 100)} % of its CPU during the backfill (${b.cpu.other} CPU seconds in ${b.seconds} s on ${m.cpuCount} cores): ` +
        'the rates and times here are lower than on an idle machine of this kind.',
    );
  }
  lines.push('');
  lines.push('## Backfill');
  lines.push('');
  lines.push(
    `Legacy file: ${Object.entries(r.legacyFile.counts).map(([k, v]) => `${v} ${k}`).join(', ')} (${r.legacyFile.fileMb} MB, generated in ${r.legacyFile.generationSeconds} s).`,
  );
  lines.push('');
  lines.push(mdTable([['table', 'rows', 'written', 'held back', 'seconds', 'rows/s'], ...b.tables.map((t) => [t.table, t.read, t.written, t.heldBack, t.seconds, t.rowsPerSecond].map(String))]));
  lines.push('');
  lines.push(
    `Worker: RSS ${b.worker.startupRssMb} MB when ready (start-up peak ${b.worker.startupPeakMb} MB, bundling the workflows), ` +
      `peak ${b.worker.backfillPeakRssMb} MB during the backfill, lifetime peak ${b.worker.lifetimePeakMb} MB; ` +
      `CPU ${b.worker.cpuSeconds} s (${b.worker.cpuPer1000Rows} s per 1,000 rows).`,
  );
  lines.push('');
  lines.push(
    `CPU seconds by process during the backfill (${b.seconds} s wall, ${Math.round(b.machineCpuUse * 100)} % of the machine's CPU): ` +
      Object.entries(b.cpu)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      '.',
  );
  lines.push('');
  lines.push(`Verified: PostgreSQL ${Object.entries(b.verified.postgres).map(([k, v]) => `${k} ${v}`).join(', ')}; held back ${Object.entries(b.verified.heldBack).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  if (b.breakdown) {
    lines.push('');
    lines.push('### Where the deliveries backfill spent its time (Temporal history)');
    lines.push('');
    lines.push(breakdownSummary(b.breakdown) + '.');
    lines.push('');
    lines.push(mdTable(breakdownRows(b.breakdown)));
  }
  if (r.pgloader) {
    const p = r.pgloader;
    lines.push('');
    lines.push('## pgloader');
    lines.push('');
    lines.push(`${p.version}, \`--with "prefetch rows = 10000"\`, into a database of its own.`);
    lines.push('');
    lines.push(
      `- The legacy file itself: ${p.sameFile.totalRows} of ${b.totalRows} rows in ${p.sameFile.seconds} s (exit ${p.sameFile.exitCode}, ${p.sameFile.errorCount} errors` +
        (p.sameFile.errors.length ? `, e.g. \`${p.sameFile.errors[0]}\`` : '') +
        ').',
    );
    if (p.utf8Copy) {
      const u = p.utf8Copy;
      lines.push(
        `- A UTF-8 copy (same rows, text decoded beforehand in ${u.preparationSeconds} s, not timed): ${u.totalRows} rows in ${u.seconds} s = ${u.rowsPerSecond} rows/s; ` +
          `peak RSS ${u.peakRssMb} MB, CPU ${u.cpuSeconds} s; CPU seconds by process meanwhile: ${Object.entries(u.cpu).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
      );
    }
    lines.push(`- Ratio basis: ${p.basis}. Ours / pgloader = ${r.ratio ?? 'n/a'}.`);
  }
  lines.push('');
  lines.push('## Incremental');
  lines.push('');
  lines.push(`Cycles with nothing changed: ${r.incremental.idleCycleMs.join(', ')} ms. The cycle after ${r.incremental.changedRows} legacy edits: ${r.incremental.changedCycleMs} ms.`);
  lines.push('');
  lines.push(mdTable(cycleRows(r.incremental.changedCycle)));
  if (r.incremental.idleBreakdown) {
    lines.push('');
    lines.push(`### A cycle with nothing changed (Temporal history)`);
    lines.push('');
    lines.push(breakdownSummary(r.incremental.idleBreakdown) + '. ' + childRows(r.incremental.idleBreakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(r.incremental.idleBreakdown)));
  }
  if (r.incremental.breakdown) {
    lines.push('');
    lines.push(`### The cycle with ${r.incremental.changedRows} changed rows (Temporal history)`);
    lines.push('');
    lines.push(breakdownSummary(r.incremental.breakdown) + '. ' + childRows(r.incremental.breakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(r.incremental.breakdown)));
  }
  lines.push('');
  lines.push('## Edit → visible lag');
  lines.push('');
  lines.push(
    `A Temporal schedule every ${r.lag.intervalSeconds} s (overlap: skip), ${r.lag.edits} legacy edits one a second, PostgreSQL polled every 100 ms: ` +
      `${r.lag.seen} seen; median ${r.lag.medianMs} ms, p95 ${r.lag.p95Ms} ms, max ${r.lag.maxMs} ms; ${r.lag.scheduledCycles} scheduled cycles recorded.`,
  );
  lines.push('');
  lines.push('## Write-back');
  lines.push('');
  lines.push(`${r.writeBack.orders} orders created in PostgreSQL, one cycle: ${r.writeBack.cycleMs} ms (the write-back run ${r.writeBack.writeBackRunMs} ms); ${r.writeBack.legacyRowsAdded} legacy rows added, notes verified as CP950.`);
  lines.push('');
  lines.push(mdTable(cycleRows(r.writeBack.cycle)));
  if (r.writeBack.breakdown) {
    lines.push('');
    lines.push(breakdownSummary(r.writeBack.breakdown) + '. ' + childRows(r.writeBack.breakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(r.writeBack.breakdown)));
  }
  if (r.memoryFlatness) {
    lines.push('');
    lines.push('## Memory against table size');
    lines.push('');
    lines.push(
      mdTable([
        ['deliveries', 'backfill peak RSS MB', 'lifetime peak MB', 'rows/s', 'other processes\' CPU share'],
        ...r.memoryFlatness.sizes.map((s) =>
          [s.deliveries, s.backfillPeakRssMb, s.lifetimePeakMb, s.rowsPerSecond, s.seconds && s.otherCpuSeconds !== undefined ? `${Math.round((s.otherCpuSeconds / s.seconds / r.machine.cpuCount) * 100)} %` : ''].map(String),
        ),
      ]),
    );
    lines.push('');
    lines.push(`Spread of the backfill peaks: ${r.memoryFlatness.spreadPct ?? 'n/a'} %.`);
  }
  lines.push('');
  return lines.join('\n');
}
