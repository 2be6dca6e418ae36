import { spawn, spawnSync, type SpawnOptions, type SpawnSyncOptions } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A service the stack needs is missing or failed; the message says what and how to get it. */
export class StackError extends Error {}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new StackError(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw failed(cmd, args, r.status, `${r.stderr ?? ''}${r.stdout ?? ''}`);
  return String(r.stdout ?? '');
}

/** A command that exited non-zero, with the last lines of what it printed. */
function failed(cmd: string, args: string[], status: number | null, output: string): StackError {
  const out = output.trim().split('\n').slice(-15).join('\n');
  return new StackError(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${status}):\n${out}`);
}

/** As run, without blocking: stacks started side by side (the tests start one per Jest worker) overlap their slow steps. */
export function runAsync(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', (err) => reject(new StackError(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (status) => {
      if (status === 0) resolve(stdout);
      else reject(failed(cmd, args, status, `${stderr}${stdout}`));
    });
  });
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The full path of a command on PATH, or null. */
export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return null;
}

export function readPid(file: string): number | null {
  if (!existsSync(file)) return null;
  const pid = parseInt(readFileSync(file, 'utf8').trim().split('\n')[0], 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export function isAlive(pid: number | null): pid is number {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = logFile && existsSync(logFile) ? `\nlast lines of ${logFile}:\n${readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')}` : '';
  throw new StackError(`${what} did not become ready within ${Math.round(timeoutMs / 1000)}s${tail}`);
}

/** SIGTERM a process (and its group when it leads one), then SIGKILL if it lingers. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) signal('SIGKILL');
}
