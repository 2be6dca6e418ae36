import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Measuring other processes from /proc (Linux): resident memory, CPU time, and CPU time by
 * kind of process (the worker, PostgreSQL, Temporal, Redis, ...) over a phase of the bench.
 */

let ticks: number | null = null;
/** Clock ticks per second for /proc/<pid>/stat times (almost always 100). */
export function clockTicks(): number {
  if (ticks === null) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): { comm: string; fields: string[] } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    return { comm: text.slice(open + 1, close), fields: text.slice(close + 2).split(' ') };
  } catch {
    return null;
  }
}

/** utime + stime of a process in seconds (its own threads; not its reaped children), or null if gone. */
export function cpuSeconds(pid: number): number | null {
  const s = statFields(pid);
  if (!s) return null;
  // fields[0] is the state (field 3 of the man page): utime is field 14, stime 15.
  return (Number(s.fields[11]) + Number(s.fields[12])) / clockTicks();
}

/** VmRSS and VmHWM (peak) of a process in bytes, or null if gone. */
export function memory(pid: number): { rss: number; hwm: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Samples a process's VmRSS every `everyMs`, keeping the peak since the last `reset`. */
export class RssSampler {
  private timer: NodeJS.Timeout;
  peak = 0;
  /** The peak over every phase (VmHWM is updated lazily by the kernel and may lag behind). */
  overallPeak = 0;
  last = 0;
  samples = 0;
  constructor(
    readonly pid: number,
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  private sample(): void {
    const m = memory(this.pid);
    if (!m) return;
    this.last = m.rss;
    this.samples++;
    if (m.rss > this.peak) this.peak = m.rss;
    if (m.rss > this.overallPeak) this.overallPeak = m.rss;
    if (m.hwm > this.overallPeak) this.overallPeak = m.hwm;
  }
  /** Starts a new phase: the peak from now on. */
  reset(): void {
    this.peak = 0;
    this.sample();
  }
  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}

/**
 * Kinds of process CPU time is split by: the sync's own workers by role (`worker` serves both
 * roles; a split install has a `core worker` and a `legacy agent`), the stack's services, the
 * bench itself, pgloader, and `other` (anything else on the machine, which competes for the
 * same cores).
 */
export type WorkerGroup = 'worker' | 'core worker' | 'legacy agent';
export type CpuGroup = WorkerGroup | 'bench' | 'postgres' | 'temporal' | 'redis' | 'pgloader' | 'other';
export type CpuSplit = Partial<Record<CpuGroup, number>>;

/** How to recognise the local stack's own services among the machine's processes. */
export interface StackProcesses {
  /** The stack's postmaster: it and its children are `postgres`. */
  postmasterPid: number | null;
  temporalPort: number | null;
  redisPort: number | null;
}

/** The stack's postmaster pid, from its data folder (null when PostgreSQL is external or unreadable). */
export function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postgres', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const groupCache = new Map<string, CpuGroup>();

function classify(pid: number, comm: string, ppid: number, start: string, workers: ReadonlyMap<number, WorkerGroup>, stack: StackProcesses): CpuGroup {
  const worker = workers.get(pid);
  if (worker) return worker;
  if (pid === process.pid) return 'bench';
  const key = `${pid}:${start}`;
  const cached = groupCache.get(key);
  if (cached) return cached;
  let group: CpuGroup = 'other';
  if (comm === 'postgres' && stack.postmasterPid !== null && (pid === stack.postmasterPid || ppid === stack.postmasterPid)) group = 'postgres';
  else if (comm.startsWith('pgloader') || comm === 'sbcl') group = 'pgloader';
  else if (comm.startsWith('temporal') || comm.startsWith('redis')) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      /* gone */
    }
    if (comm.startsWith('temporal') && stack.temporalPort !== null && new RegExp(`--port[ =]${stack.temporalPort}\\b`).test(cmd)) group = 'temporal';
    if (comm.startsWith('redis') && stack.redisPort !== null && cmd.includes(`:${stack.redisPort}`)) group = 'redis';
  }
  groupCache.set(key, group);
  return group;
}

/** Per process: its group and CPU seconds so far. */
function snapshot(workers: ReadonlyMap<number, WorkerGroup>, stack: StackProcesses): Map<string, { group: CpuGroup; cpu: number }> {
  const out = new Map<string, { group: CpuGroup; cpu: number }>();
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return out;
  }
  for (const pid of pids) {
    const s = statFields(pid);
    if (!s) continue;
    const cpu = (Number(s.fields[11]) + Number(s.fields[12])) / clockTicks();
    out.set(`${pid}:${s.fields[19]}`, { group: classify(pid, s.comm, Number(s.fields[1]), s.fields[19], workers, stack), cpu });
  }
  return out;
}

/**
 * CPU seconds by group over a phase, sampling /proc every 500 ms so that processes which start
 * and end within the phase (pgloader's PostgreSQL connections, say) are counted too, up to
 * their last sample.
 */
export class CpuTracker {
  private first: Map<string, { group: CpuGroup; cpu: number }>;
  private last = new Map<string, { group: CpuGroup; cpu: number }>();
  private timer: NodeJS.Timeout;
  constructor(
    private readonly workers: ReadonlyMap<number, WorkerGroup>,
    private readonly stack: StackProcesses,
  ) {
    this.first = snapshot(workers, stack);
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }
  private sample(): void {
    for (const [k, v] of snapshot(this.workers, this.stack)) this.last.set(k, v);
  }
  /** CPU seconds per group: the workers' groups always, the others where some was used. */
  stop(): CpuSplit {
    clearInterval(this.timer);
    this.sample();
    const out: CpuSplit = {};
    for (const g of this.workers.values()) out[g] = 0;
    for (const g of ['postgres', 'temporal', 'redis', 'bench'] as const) out[g] = 0;
    for (const [k, v] of this.last) out[v.group] = (out[v.group] ?? 0) + v.cpu - (this.first.get(k)?.cpu ?? 0);
    for (const g of Object.keys(out) as CpuGroup[]) out[g] = round(Math.max(0, out[g]!), 2);
    return out;
  }
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const median = (values: number[]) => percentile(values, 50);

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const mb = (bytes: number) => round(bytes / (1024 * 1024), 1);

export interface MachineInfo {
  hostname: string;
  os: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  node: string;
  date: string;
  commit: string | null;
  /** 1, 5 and 15 minute load averages when the bench started. */
  loadAverage: number[];
}

/** The current commit, read from .git without running git. */
function headCommit(root: string): string | null {
  try {
    const head = readFileSync(path.join(root, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    try {
      return readFileSync(path.join(root, '.git', ref), 'utf8').trim();
    } catch {
      const packed = readFileSync(path.join(root, '.git', 'packed-refs'), 'utf8');
      return packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.split(' ')[0] ?? null;
    }
  } catch {
    return null;
  }
}

export function machineInfo(root: string): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    date: new Date().toISOString(),
    commit: headCommit(root),
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

/** A rate drop in words: '12 % slower', or '4.8 % faster' for a negative drop. */
export const slowerOrFaster = (dropPct: number): string => (dropPct < 0 ? `${-dropPct} % faster` : `${dropPct} % slower`);
