import type { Breakdown } from './history';
import { slowerOrFaster, type CpuSplit } from './measure';
import type { BenchResults, ProcessUse } from './run';

/** The bench's results as a table on stdout and as the Markdown kept in bench/results/. */

export interface Target {
  metric: string;
  value: string;
  target: string;
  /** null: no target (information only) or not measured. */
  met: boolean | null;
}

const metText = (m: boolean | null) => (m === null ? '' : m ? 'met' : 'MISSED');

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
  const rows = [['activity', 'side', 'count', 'total run ms', 'mean ms', 'p95 ms', 'queued ms (sched→start)']];
  for (const [name, a] of Object.entries(b.activities).sort((x, y) => y[1].runMs - x[1].runMs)) {
    rows.push([name, a.side, String(a.count), String(a.runMs), String(a.meanRunMs), String(a.p95RunMs ?? ''), a.side === 'local' ? '' : String(a.queueMs)]);
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

const cpuText = (cpu: CpuSplit) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

const processText = (p: ProcessUse) =>
  `${p.group}: RSS ${p.startupRssMb} MB when ready (start-up peak ${p.startupPeakMb} MB), peak ${p.peakRssMb} MB during the phase, lifetime peak ${p.lifetimePeakMb} MB; CPU ${p.cpuSeconds} s (${p.cpuPer1000Rows} s per 1,000 rows)`;

export function printReport(r: BenchResults): void {
  const out: string[] = [];
  const l = r.initialLoad;
  out.push('');
  out.push(textTable(targetRows(r)));
  out.push('');
  out.push(`initial load per table run: ${l.tables.map((t) => `${t.table} ${t.direction} ${t.read} rows in ${t.seconds} s`).join('; ')}`);
  out.push(`CPU seconds during the initial load (${l.seconds} s wall): ${cpuText(l.cpu)}`);
  if (l.breakdown) {
    out.push('');
    out.push('where the initial load spent its time (Temporal history):');
    out.push(breakdownSummary(l.breakdown));
    out.push(textTable(breakdownRows(l.breakdown)));
  }
  if (r.incremental.breakdown) {
    out.push('');
    out.push(`the ${r.incremental.changedRows}-row cycle: ${breakdownSummary(r.incremental.breakdown)}`);
    out.push(`CPU seconds during it (${r.incremental.changedCycleMs} ms wall): ${cpuText(r.incremental.changedCycleCpu)}`);
    out.push(textTable(breakdownRows(r.incremental.breakdown)));
  }
  if (r.writeBack.breakdown) {
    out.push('');
    out.push(`the write-back of ${r.writeBack.orders} orders: ${breakdownSummary(r.writeBack.breakdown)}`);
    out.push(`CPU seconds during it (${r.writeBack.cycleMs} ms wall): ${cpuText(r.writeBack.cpu)}`);
    out.push(textTable(breakdownRows(r.writeBack.breakdown)));
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
  const l = r.initialLoad;
  const lines: string[] = [];
  const section = (title: string) => lines.push('', `## ${title}`, '');
  lines.push(`# luckygas-sync bench: latest results${r.options.quick ? ' (--quick smoke run)' : ''}`);
  lines.push('');
  lines.push(`Written by \`npm run bench\` (bench/run.ts); the same data is in latest.json.`);
  section('Machine');
  lines.push(`- date: ${m.date} (run ${r.startedAt} → ${r.finishedAt})`);
  lines.push(`- host: ${m.hostname}, ${m.os}`);
  lines.push(`- CPU: ${m.cpuModel} × ${m.cpuCount}`);
  lines.push(`- memory: ${m.totalMemoryGiB} GiB`);
  lines.push(`- load average at the start: ${m.loadAverage.join(', ')} (other work on the machine competes for the same cores: see \`other\` in the CPU figures)`);
  lines.push(`- Node ${m.node}${m.commit ? `, commit ${m.commit}` : ''}`);
  lines.push(`- workers: ${r.options.split ? 'split (a core worker and a legacy agent, a process each)' : 'one worker process serving both roles'}`);
  lines.push(`- options: \`${JSON.stringify(r.options)}\``);
  section('Results');
  lines.push(mdTable(targetRows(r)));
  const otherShare = (l.cpu.other ?? 0) / l.seconds / m.cpuCount;
  if (otherShare > 0.2) {
    lines.push('');
    lines.push(
      `**Note:** other processes on the machine used ${Math.round(otherShare * 100)} % of its CPU during the initial load (${l.cpu.other} CPU seconds in ${l.seconds} s on ${m.cpuCount} cores): ` +
        'the rates and times here are lower than on an idle machine of this kind.',
    );
  }
  section('Initial load');
  lines.push(`Legacy file: ${Object.entries(r.legacyFile.counts).map(([k, v]) => `${v} ${k}`).join(', ')} (${r.legacyFile.fileMb} MB, generated in ${r.legacyFile.generationSeconds} s).`);
  lines.push('');
  lines.push(`The first cycle on an empty database (SyncCycleWorkflow, as the first \`sync-once\` runs it): ${l.totalRows} rows in ${l.seconds} s = ${l.rowsPerSecond} rows/s.`);
  lines.push('');
  lines.push(mdTable([['table', 'direction', 'status', 'rows', 'written', 'held back', 'seconds'], ...l.tables.map((t) => [t.table, t.direction, t.status, t.read, t.written, t.heldBack, t.seconds].map(String))]));
  lines.push('');
  for (const p of l.processes) lines.push(`- ${processText(p)}.`);
  lines.push('');
  lines.push(`CPU seconds by process during the initial load (${l.seconds} s wall, ${Math.round(l.machineCpuUse * 100)} % of the machine's CPU): ${cpuText(l.cpu)}.`);
  lines.push('');
  lines.push(`Verified: PostgreSQL ${Object.entries(l.verified.postgres).map(([k, v]) => `${k} ${v}`).join(', ')}; held back ${Object.entries(l.verified.heldBack).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  if (l.breakdown) {
    lines.push('', '### Where the initial load spent its time (Temporal history)', '');
    lines.push(breakdownSummary(l.breakdown) + '. ' + childRows(l.breakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(l.breakdown)));
  }
  if (r.rawCopy) {
    const c = r.rawCopy;
    section('Raw COPY');
    lines.push(
      `The rows the load left (${Object.entries(c.rows).map(([k, v]) => `${v} ${k}`).join(', ')}), copied out and loaded with COPY (binary) into an empty database of the same schema, ` +
        `indexes, foreign keys and triggers, in one transaction marked as the sync's: ${c.totalRows} rows in ${c.seconds} s = ${c.rowsPerSecond} rows/s. ` +
        `CPU seconds by process meanwhile: ${cpuText(c.cpu)}. Initial load / raw COPY = ${r.ratio.rawCopy ?? 'n/a'}.`,
    );
  }
  if (r.pgloader) {
    const p = r.pgloader;
    section('pgloader');
    lines.push(`${p.version}, \`--with "prefetch rows = 10000"\`, into a database of its own.`);
    lines.push('');
    lines.push(
      `- The legacy file itself: ${p.sameFile.totalRows} of ${l.totalRows} rows in ${p.sameFile.seconds} s (exit ${p.sameFile.exitCode}, ${p.sameFile.errorCount} errors` +
        (p.sameFile.errors.length ? `, e.g. \`${p.sameFile.errors[0]}\`` : '') +
        ').',
    );
    if (p.utf8Copy) {
      const u = p.utf8Copy;
      lines.push(
        `- A UTF-8 copy (same rows, text decoded beforehand in ${u.preparationSeconds} s, not timed): ${u.totalRows} rows in ${u.seconds} s = ${u.rowsPerSecond} rows/s; ` +
          `peak RSS ${u.peakRssMb} MB, CPU ${u.cpuSeconds} s; CPU seconds by process meanwhile: ${cpuText(u.cpu)}.`,
      );
    }
    lines.push(`- Ratio basis: ${p.basis}. Initial load / pgloader = ${r.ratio.pgloader ?? 'n/a'}.`);
    if (r.rounds.length > 1) {
      const each = r.rounds.map((x, i) => `${i + 1}. ${x.loadRowsPerSecond} against ${x.pgloaderRowsPerSecond ?? 'incomplete'} rows/s (${x.ratio ?? 'n/a'})`);
      lines.push(
        `- ${r.rounds.length} rounds, the initial load and then pgloader, one after the other (the load after the first on a fresh database and workers, the same file): ` +
          `${each.join('; ')}. The ratio above is their median; the first round is the load described above.`,
      );
    }
  }
  if (r.backfill) {
    const b = r.backfill;
    section('Backfill after the load');
    lines.push(`Every legacy row read again and compared with what the sync last saw (BackfillWorkflow per table): ${b.totalRows} rows in ${b.seconds} s = ${b.rowsPerSecond} rows/s.`);
    lines.push('');
    lines.push(mdTable([['table', 'rows', 'unchanged', 'written', 'seconds', 'rows/s'], ...b.tables.map((t) => [t.table, t.read, t.unchanged, t.written, t.seconds, t.rowsPerSecond].map(String))]));
    lines.push('');
    for (const p of b.processes) lines.push(`- ${processText(p)}.`);
    lines.push('');
    lines.push(`CPU seconds by process: ${cpuText(b.cpu)}.`);
    if (b.breakdown) {
      lines.push('');
      lines.push(breakdownSummary(b.breakdown) + ' (deliveries).');
      lines.push('');
      lines.push(mdTable(breakdownRows(b.breakdown)));
    }
  }
  section('Incremental');
  lines.push(`Cycles with nothing changed: ${r.incremental.idleCycleMs.join(', ')} ms. The cycle after ${r.incremental.changedRows} legacy edits, ${r.incremental.changedCyclesMs.length} rounds of other rows each: ${r.incremental.changedCyclesMs.join(', ')} ms, median ${r.incremental.changedCycleMs} ms (one sample on this machine swings by a fifth; between rounds a cycle not measured moves the watermark past the lookback window, so each round reads its own rows only). The median round:`);
  lines.push('');
  lines.push(mdTable(cycleRows(r.incremental.changedCycle)));
  lines.push('', `CPU seconds by process during the median round (${r.incremental.changedCycleMs} ms wall): ${cpuText(r.incremental.changedCycleCpu)}.`);
  if (r.incremental.idleBreakdown) {
    lines.push('', '### A cycle with nothing changed (Temporal history)', '');
    lines.push(breakdownSummary(r.incremental.idleBreakdown) + '. ' + childRows(r.incremental.idleBreakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(r.incremental.idleBreakdown)));
  }
  if (r.incremental.breakdown) {
    lines.push('', `### The cycle with ${r.incremental.changedRows} changed rows (Temporal history)`, '');
    lines.push(breakdownSummary(r.incremental.breakdown) + '. ' + childRows(r.incremental.breakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(r.incremental.breakdown)));
  }
  section('Edit → visible lag');
  lines.push(
    `A Temporal schedule every ${r.lag.intervalSeconds} s (overlap: skip), ${r.lag.edits} legacy edits one a second, PostgreSQL polled every 100 ms: ` +
      `${r.lag.seen} seen; median ${r.lag.medianMs} ms, p95 ${r.lag.p95Ms} ms, max ${r.lag.maxMs} ms; ${r.lag.scheduledCycles} scheduled cycles recorded.`,
  );
  section('Write-back');
  lines.push(`${r.writeBack.orders} orders created in PostgreSQL, then one cycle, ${r.writeBack.cyclesMs.length} rounds: ${r.writeBack.cyclesMs.join(', ')} ms, median ${r.writeBack.cycleMs} ms (of which the write-back run ${r.writeBack.writeBackRunMs} ms); in each round ${r.writeBack.legacyRowsAdded} legacy rows added, notes verified as CP950. The median round:`);
  lines.push('');
  lines.push(mdTable(cycleRows(r.writeBack.cycle)));
  lines.push('', `CPU seconds by process during the median round (${r.writeBack.cycleMs} ms wall): ${cpuText(r.writeBack.cpu)}.`);
  if (r.writeBack.breakdown) {
    lines.push('');
    lines.push(breakdownSummary(r.writeBack.breakdown) + '. ' + childRows(r.writeBack.breakdown));
    lines.push('');
    lines.push(mdTable(breakdownRows(r.writeBack.breakdown)));
  }
  if (r.scale) {
    section('Cost curve (--sizes)');
    const groups = [...new Set(r.scale.sizes.flatMap((s) => Object.keys(s.peakRssMb)))];
    lines.push(
      mdTable([
        ['deliveries', 'rows', 'seconds', 'rows/s', ...groups.map((g) => `${g} peak RSS MB`), 'other processes\' CPU share'],
        ...r.scale.sizes.map((s) =>
          [
            s.deliveries,
            s.totalRows,
            s.seconds,
            s.rowsPerSecond,
            ...groups.map((g) => s.peakRssMb[g as keyof typeof s.peakRssMb] ?? ''),
            `${Math.round(((s.cpu.other ?? 0) / s.seconds / m.cpuCount) * 100)} %`,
          ].map(String),
        ),
      ]),
    );
    lines.push('');
    lines.push(`Spread of the peaks: ${r.scale.memorySpreadPct ?? 'n/a'} %; the largest size ran ${r.scale.rateDropPct == null ? 'n/a' : slowerOrFaster(r.scale.rateDropPct)} than the smallest.`);
  }
  lines.push('');
  return lines.join('\n');
}
