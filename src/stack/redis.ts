import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isAlive, portOpen, readPid, run, stopProcess, StackError, waitFor, which } from './processes';
import type { StackSettings } from './settings';

/** A loopback redis-server for the disposable caches; nothing it holds needs to survive. */

function paths(s: StackSettings) {
  const dir = path.join(s.dataDir, 'redis');
  return { dir, pid: path.join(dir, 'redis.pid'), log: path.join(dir, 'redis.log') };
}

/** redis-server on PATH, installed from the distribution's packages when we may. */
function redisServer(): string {
  let exe = which('redis-server');
  if (!exe && process.getuid?.() === 0 && which('apt-get')) {
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'redis-server'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    exe = which('redis-server');
  }
  if (!exe) {
    throw new StackError('redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_URL to an existing Redis.');
  }
  return exe;
}

export function redisRunning(s: StackSettings): boolean {
  return isAlive(readPid(paths(s).pid));
}

export async function startRedis(s: StackSettings): Promise<void> {
  const p = paths(s);
  if (redisRunning(s)) return;
  mkdirSync(p.dir, { recursive: true });
  run(redisServer(), [
    '--daemonize', 'yes',
    '--bind', '127.0.0.1',
    '--port', String(s.redisPort),
    '--dir', p.dir,
    '--pidfile', p.pid,
    '--logfile', p.log,
    '--save', '',
    '--appendonly', 'no',
  ]);
  await waitFor(`redis-server on port ${s.redisPort}`, () => portOpen(s.redisPort), 20_000, p.log);
}

export async function stopRedis(s: StackSettings): Promise<void> {
  const pid = readPid(paths(s).pid);
  if (isAlive(pid)) await stopProcess(pid);
  rmSync(paths(s).pid, { force: true });
}
