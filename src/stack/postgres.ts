import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isExecutable, run, StackError } from './processes';
import { LOCAL_DB_NAME, LOCAL_DB_USER, type StackSettings } from './settings';

/**
 * A project-local PostgreSQL cluster from the machine's server binaries, run with pg_ctl.
 * As root the server runs as the `postgres` user (PostgreSQL refuses to run as root). Its
 * files are under the data folder, unless that folder is one the postgres user cannot reach
 * (a checkout in /root, or in a folder only root may enter): then they are under the postgres
 * user's home, in a folder named after the data folder, so two checkouts never share one and
 * `stack down` / `stack status` find it again.
 */

interface PgPaths {
  dir: string;
  data: string;
  socket: string;
  log: string;
}

const asRoot = () => process.getuid?.() === 0;

const hasCluster = (dir: string) => existsSync(path.join(dir, 'data', 'PG_VERSION'));

/** Where root keeps the cluster of a data folder the postgres user cannot reach. */
export function relocatedClusterDir(s: StackSettings): string {
  const home = run('getent', ['passwd', 'postgres']).trim().split(':')[5];
  if (!home) throw new StackError('the postgres user has no home folder (getent passwd postgres)');
  let dataDir = path.resolve(s.dataDir);
  try {
    dataDir = realpathSync(dataDir);
  } catch {
    /* not created yet: its path as given */
  }
  return path.join(home, 'luckygas-sync', createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
}

function postgresCanReach(dir: string): boolean {
  try {
    run('runuser', ['-u', 'postgres', '--', 'test', '-x', dir], { cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

/** The folder of this data folder's cluster: an existing cluster wins, else where postgres can reach. */
export function postgresClusterDir(s: StackSettings): string {
  const local = path.join(s.dataDir, 'postgres');
  if (!asRoot() || hasCluster(local)) return local;
  const relocated = relocatedClusterDir(s);
  if (hasCluster(relocated)) return relocated;
  return existsSync(s.dataDir) && postgresCanReach(s.dataDir) ? local : relocated;
}

function paths(s: StackSettings): PgPaths {
  const dir = postgresClusterDir(s);
  return { dir, data: path.join(dir, 'data'), socket: path.join(dir, 'run'), log: path.join(dir, 'postgres.log') };
}

function postgresUser(): { uid: number; gid: number } {
  const out = run('id', ['-u', 'postgres'], {}).trim();
  const gid = run('id', ['-g', 'postgres'], {}).trim();
  return { uid: Number(out), gid: Number(gid) };
}

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function pgRun(s: StackSettings, bin: string, args: string[]): string {
  const exe = path.join(s.pgBinDir, bin);
  if (!isExecutable(exe)) {
    throw new StackError(
      `PostgreSQL server binaries not found in ${s.pgBinDir} (${bin} missing). Install them ` +
        `(Debian: apt-get install postgresql-15), set PG_BIN_DIR to their folder, or set DATABASE_URL to an existing server.`,
    );
  }
  if (asRoot()) return run('runuser', ['-u', 'postgres', '--', exe, ...args], { cwd: '/' });
  return run(exe, args);
}

function status(s: StackSettings): boolean {
  const p = paths(s);
  if (!existsSync(path.join(p.data, 'PG_VERSION'))) return false;
  try {
    pgRun(s, 'pg_ctl', ['-D', p.data, 'status']);
    return true;
  } catch {
    return false;
  }
}

export function postgresRunning(s: StackSettings): boolean {
  return status(s);
}

export function startPostgres(s: StackSettings): void {
  mkdirSync(s.dataDir, { recursive: true });
  const p = paths(s);
  const relocated = p.dir !== path.join(s.dataDir, 'postgres');
  mkdirSync(p.socket, { recursive: true });
  if (asRoot()) {
    const { uid, gid } = postgresUser();
    // Whatever root's umask, the postgres user must get through the folders it was given.
    for (const d of [...(relocated ? [path.dirname(p.dir)] : []), p.dir, p.socket]) chownSync(d, uid, gid);
    // Whose cluster this is, for someone who finds it under the postgres user's home.
    if (relocated) writeFileSync(path.join(p.dir, 'DATA_FOLDER'), `${realpathSync(s.dataDir)}\n`);
  }
  if (!existsSync(path.join(p.data, 'PG_VERSION'))) {
    // Loopback only, trust auth: a local development and test cluster.
    pgRun(s, 'initdb', ['-D', p.data, '-U', LOCAL_DB_USER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8']);
  }
  if (!status(s)) {
    const opts = [
      `-p ${s.pgPort}`,
      `-c listen_addresses=127.0.0.1`,
      `-c unix_socket_directories=${p.socket}`,
      '-c fsync=on',
      '-c max_connections=200',
      '-c shared_buffers=256MB',
    ].join(' ');
    pgRun(s, 'pg_ctl', ['-D', p.data, '-l', p.log, '-o', opts, '-w', '-t', '60', 'start']);
  }
  ensureDatabase(s);
}

function ensureDatabase(s: StackSettings): void {
  const psql = ['-h', '127.0.0.1', '-p', String(s.pgPort), '-U', LOCAL_DB_USER, '-d', 'postgres', '-tAc'];
  const exists = pgRun(s, 'psql', [...psql, `SELECT 1 FROM pg_database WHERE datname = '${LOCAL_DB_NAME}'`]).trim();
  if (exists !== '1') pgRun(s, 'createdb', ['-h', '127.0.0.1', '-p', String(s.pgPort), '-U', LOCAL_DB_USER, LOCAL_DB_NAME]);
}

export function stopPostgres(s: StackSettings): void {
  if (status(s)) pgRun(s, 'pg_ctl', ['-D', paths(s).data, '-m', 'fast', '-w', 'stop']);
}
