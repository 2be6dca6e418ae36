import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { decodeLegacyText, rowEncodingHint } from '../src/encoding/cp950';
import { loadEudcMap } from '../src/encoding/eudc';
import { which } from '../src/stack/processes';
import { cpuSeconds, memory, round } from './measure';

/**
 * The peer: pgloader (the distribution's package) loading an SQLite file into a PostgreSQL
 * database of its own. Installed with apt-get when missing and we are root.
 */

export function ensurePgloader(log: (l: string) => void): string {
  const found = which('pgloader');
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(
      'pgloader is not installed and the bench is not running as root, so it cannot install it: ' +
        'install it (Debian/Ubuntu: `sudo apt-get install -y pgloader`) or run the bench with --skip-pgloader',
    );
  }
  log('pgloader is missing: apt-get install -y pgloader');
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'pgloader'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    r = install();
  }
  const after = which('pgloader');
  if (r.status !== 0 || !after) throw new Error('apt-get install pgloader failed: install pgloader by hand or run the bench with --skip-pgloader');
  return after;
}

export function pgloaderVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n')[0].trim();
}

export interface PgloaderRun {
  file: string;
  seconds: number;
  exitCode: number | null;
  /** Rows found in the target database afterwards, per table. */
  rows: Record<string, number>;
  totalRows: number;
  /** Rows per second over the rows it loaded. */
  rowsPerSecond: number;
  /** The first few ERROR lines of its output. */
  errors: string[];
  errorCount: number;
  peakRssMb: number;
  cpuSeconds: number;
  log: string;
}

export async function runPgloader(bin: string, file: string, targetUrl: string, workDir: string, label: string, tables: string[]): Promise<PgloaderRun> {
  const logFile = path.join(workDir, `pgloader-${label}.out`);
  const args = [
    '--with',
    'prefetch rows = 10000',
    '--root-dir',
    path.join(workDir, `pgloader-${label}`),
    '--logfile',
    path.join(workDir, `pgloader-${label}.log`),
    `sqlite://${path.resolve(file)}`,
    targetUrl,
  ];
  const started = process.hrtime.bigint();
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    const m = memory(child.pid!);
    if (m) peak = Math.max(peak, m.hwm, m.rss);
    const c = cpuSeconds(child.pid!);
    if (c !== null) cpu = c;
  };
  const timer = setInterval(sample, 100);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  clearInterval(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  writeFileSync(logFile, output);

  const rows: Record<string, number> = {};
  const client = new pg.Client({ connectionString: targetUrl });
  await client.connect();
  try {
    for (const t of tables) {
      const exists = await client.query<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [`public.${t}`]);
      rows[t] = exists.rows[0].r ? Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM public.${t}`)).rows[0].n) : 0;
    }
  } finally {
    await client.end();
  }
  const errorLines = output.split('\n').filter((l) => / ERROR /.test(l));
  const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
  return {
    file,
    seconds: round(seconds, 2),
    exitCode,
    rows,
    totalRows,
    rowsPerSecond: round(totalRows / seconds),
    errors: errorLines.slice(0, 5).map((l) => l.replace(/^\S+ /, '')),
    errorCount: errorLines.length,
    peakRssMb: round(peak / 1024 / 1024, 1),
    cpuSeconds: round(cpu, 2),
    log: logFile,
  };
}

/**
 * A copy of the legacy file with every text value decoded to UTF-8 (as the sync decodes it:
 * CP950 with the EUDC map, UTF-8 rows, BLOB notes), same tables, rows and ids: the file
 * pgloader can read, since it takes SQLite text as UTF-8 and stops at the first CP950 value.
 */
export function utf8Copy(src: string, dst: string, tables: string[]): { seconds: number; values: number; undecodable: number } {
  const started = process.hrtime.bigint();
  copyFileSync(src, dst);
  const eudc = loadEudcMap();
  const db = new Database(dst);
  let values = 0;
  let undecodable = 0;
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    for (const table of tables) {
      const cols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[])
        .filter((c) => c.type.toUpperCase() === 'TEXT')
        .map((c) => c.name);
      const select = db.prepare(`SELECT id, ${cols.map((c) => `CAST(${c} AS BLOB) AS ${c}`).join(', ')} FROM ${table} WHERE id > ? ORDER BY id LIMIT 10000`);
      const update = db.prepare(`UPDATE ${table} SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`);
      let after = 0;
      for (;;) {
        // In chunks: better-sqlite3 cannot write while a read of the same connection is open.
        const rows = select.all(after) as Record<string, Buffer | null | number>[];
        if (rows.length === 0) break;
        after = Number(rows[rows.length - 1].id);
        db.transaction(() => {
          for (const r of rows) {
            const bufs = cols.map((c) => r[c]).filter((v): v is Buffer => Buffer.isBuffer(v));
            const hint = rowEncodingHint(bufs, eudc);
            const out = cols.map((c) => {
              const v = r[c];
              if (!Buffer.isBuffer(v)) return v;
              values++;
              const d = decodeLegacyText(v, 'auto', eudc, hint);
              if (d.ok) return d.value;
              undecodable++;
              return v.toString('latin1');
            });
            update.run(...out, r.id);
          }
        })();
      }
    }
  } finally {
    db.close();
  }
  return { seconds: round(Number(process.hrtime.bigint() - started) / 1e9, 1), values, undecodable };
}
