import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Runs the built command-line program (`bin/luckygas-sync.js`, which loads dist/) as a
 * user would, and captures what it prints and how it ends. Build first: `npx tsc -p tsconfig.json`.
 */

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'bin', 'luckygas-sync.js');

export interface CliResult {
  args: string[];
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** When it last printed anything (ms after the start; 0 if never): a command should end right after. */
  lastOutputMs: number;
  /** The process did not end within the time allowed (`limitMs`) and was killed. */
  timedOut: boolean;
  limitMs?: number;
}

export interface CliOptions {
  /** Variables for the program; `undefined` removes one. Added to a cleaned copy of this process's environment. */
  env?: Record<string, string | undefined>;
  /** Killed after this long (SIGTERM, then SIGKILL 5 s later); default 120 s. */
  timeoutMs?: number;
  cwd?: string;
  /** Run as this user (and its group), e.g. to see what another account may not read. */
  user?: { uid: number; gid: number };
}

/**
 * Variables the program reads (src/config/env.ts, src/stack/settings.ts): never inherited from
 * the shell running the tests, so a developer's exported settings cannot leak into a test.
 */
const PROGRAM_VARIABLES = /^(LEGACY_DB_PATH|DATABASE_URL|REDIS_URL|TEMPORAL_.*|SYNC_.*|CLAIM_TTL_SECONDS|LOAD_THREADS|LOG_LEVEL|MONITOR_PORT|EUDC_MAP_PATH|LUCKYGAS_.*)$/;

export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!PROGRAM_VARIABLES.test(k) && !k.startsWith('TEST_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** The program started, with what it prints collected as it comes. */
function spawnCli(args: string[], opts: Omit<CliOptions, 'timeoutMs'>) {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: cliEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'], ...opts.user });
  const out = { started, stdout: '', stderr: '', lastOutputMs: 0 };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8').on('data', (d: string) => {
      out[stream] += d;
      out.lastOutputMs = Date.now() - started;
    });
  }
  return { child, out };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const { child, out } = spawnCli(args, opts);
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      clearTimeout(killer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolve({ args, code, signal, stdout: out.stdout, stderr: out.stderr, ms: Date.now() - out.started, lastOutputMs: out.lastOutputMs, timedOut, limitMs: timeoutMs });
    });
  });
}

/** A command that runs until stopped (`worker`, `monitor`). */
export interface RunningCli {
  pid: number;
  output(): { stdout: string; stderr: string };
  /** Resolves with the first match of `pattern` in stdout or stderr; rejects if the process ends first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and waits for the end (SIGKILL after `graceMs`; then `timedOut` is true). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<CliResult>;
}

export function startCli(args: string[], opts: Omit<CliOptions, 'timeoutMs'> = {}): RunningCli {
  const { child, out } = spawnCli(args, opts);
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let done = false;
  void ended.then(() => (done = true));
  return {
    pid: child.pid!,
    output: () => ({ stdout: out.stdout, stderr: out.stderr }),
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = out.stdout.match(pattern) ?? out.stderr.match(pattern);
        if (m) return m;
        if (done) throw new Error(`luckygas-sync ${args.join(' ')} ended before printing ${pattern}:\n${tail(out.stdout)}\n--- stderr:\n${tail(out.stderr)}`);
        if (Date.now() > deadline) throw new Error(`luckygas-sync ${args.join(' ')} did not print ${pattern} within ${timeoutMs} ms:\n${tail(out.stderr)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal = 'SIGTERM', graceMs = 30_000) {
      let timedOut = false;
      if (!done) child.kill(signal);
      const killer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, graceMs);
      const { code, signal: sig } = await ended;
      clearTimeout(killer);
      return { args, code, signal: sig, stdout: out.stdout, stderr: out.stderr, ms: Date.now() - out.started, lastOutputMs: out.lastOutputMs, timedOut, limitMs: graceMs };
    },
  };
}

/** The last lines of a stream, for failure messages. */
export function tail(text: string, lines = 25): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** How a run ended, in words, with the end of what it printed: for failure messages. */
export function describeRun(r: CliResult): string {
  const ended = r.timedOut ? `was still running after ${Math.round((r.limitMs ?? r.ms) / 1000)} s and was killed` : r.code === null ? `was killed by ${r.signal}` : `exited ${r.code} after ${(r.ms / 1000).toFixed(1)} s`;
  return `luckygas-sync ${r.args.join(' ')} ${ended}\n--- stderr (end):\n${tail(r.stderr)}\n--- stdout (end):\n${tail(r.stdout, 10)}`;
}

/** Fails the test, showing the command and what it printed, unless it ended by itself with `code`. */
export function expectExit(r: CliResult, code: number, hint = ''): void {
  if (r.code !== code || r.timedOut) throw new Error(`expected exit ${code}: ${describeRun(r)}${hint ? `\n${hint}` : ''}`);
}

/**
 * Independent commands of a table of test cases, run a few at a time from the first test of
 * the table on; each test then awaits its own. Cuts the wall time of commands that wait.
 */
export function concurrently<K extends string>(keys: K[], start: (key: K) => Promise<CliResult>, limit = 3): (key: K) => Promise<CliResult> {
  let runs: Map<K, Promise<CliResult>> | undefined;
  return (key) => {
    if (!runs) {
      const queue = [...keys];
      const gates: Array<() => void> = [];
      let running = 0;
      const next = () => {
        running--;
        gates.shift()?.();
      };
      runs = new Map(
        queue.map((k) => [
          k,
          (async () => {
            if (running >= limit) await new Promise<void>((r) => gates.push(r));
            running++;
            try {
              return await start(k);
            } finally {
              next();
            }
          })(),
        ]),
      );
    }
    const run = runs.get(key);
    if (!run) throw new Error(`not one of the concurrent cases: ${key}`);
    return run;
  };
}

/** The JSON a `--json` command printed on stdout (the only thing it prints there). */
export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`luckygas-sync ${r.args.join(' ')} did not print JSON on stdout (exit ${r.code}):\n${tail(r.stdout)}\n--- stderr:\n${tail(r.stderr)}`);
  }
}
