import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { concurrently, expectExit } from '../support/cli';
import { cli, db, dir, GENERATED, legacyPath, pool, PREFIX, queue, slug, useCliSuite } from '../support/cliSuite';

/**
 * The command-line program refusing what it cannot work with: a legacy file it cannot read,
 * a DATABASE_URL that is malformed, names no database or a role that may not log in, a
 * Temporal it cannot reach, a table it does not know. Each fails at once, with the exit
 * code its kind calls for, naming the setting (and never a password).
 */
useCliSuite();

describe('luckygas-sync errors', () => {
  it('sync-once with LEGACY_DB_PATH naming no file fails at once (exit 1), naming the path', async () => {
    const missing = path.join(dir, 'moved', 'luckygas.db');
    const r = await cli(['sync-once', '--json'], { LEGACY_DB_PATH: missing, TEMPORAL_TASK_QUEUE: queue('missing-file') }, { timeoutMs: 90_000 });
    expectExit(r, 1);
    expect(r.stderr).toContain(`legacy database ${missing} does not exist`);
    expect(r.stdout).toBe('');
    expect(r.ms).toBeLessThan(60_000); // failed as non-retryable, not after 20 attempts
  }, 120_000);

  it('sync-once with LEGACY_DB_PATH naming a file that is not SQLite fails at once (exit 1)', async () => {
    const notSqlite = path.join(dir, 'notes.db');
    writeFileSync(notSqlite, 'Lucky Gas delivery notes, 2024\n'.repeat(20));
    const r = await cli(['sync-once', '--json'], { LEGACY_DB_PATH: notSqlite, TEMPORAL_TASK_QUEUE: queue('not-sqlite') }, { timeoutMs: 90_000 });
    expectExit(r, 1);
    expect(r.stderr).toContain(`legacy database ${notSqlite} is not an SQLite file`);
    expect(r.ms).toBeLessThan(60_000);
  }, 120_000);

  it('sync-once with LEGACY_DB_PATH naming a file this account may not read fails at once (exit 1), saying so', async () => {
    // root reads every file: the command then runs as nobody, as a worker's service account would.
    const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    const folder = mkdtempSync(path.join(os.tmpdir(), 'luckygas-cli-unreadable-'));
    chmodSync(folder, 0o755);
    const file = path.join(folder, 'luckygas.db');
    copyFileSync(legacyPath, file);
    chmodSync(file, 0o000);
    const hidden = path.join(folder, 'private');
    mkdirSync(hidden);
    chmodSync(hidden, 0o000);
    try {
      let r = await cli(['sync-once', '--json'], { LEGACY_DB_PATH: file, TEMPORAL_TASK_QUEUE: queue('unreadable') }, { timeoutMs: 90_000, user });
      expectExit(r, 1);
      expect(r.stderr).toContain(`legacy database ${file} is not readable by this process`);
      expect(r.ms).toBeLessThan(60_000);
      // A folder it may not enter: not "does not exist", which would send someone looking elsewhere.
      r = await cli(['sync-once', '--json'], { LEGACY_DB_PATH: path.join(hidden, 'luckygas.db'), TEMPORAL_TASK_QUEUE: queue('hidden') }, { timeoutMs: 90_000, user });
      expectExit(r, 1);
      expect(r.stderr).toMatch(/legacy database .*private\/luckygas\.db cannot be reached by this process \(permission denied/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 200_000);

  const badUrlCommands = ['sync-once', 'status', 'held-back list', 'health', 'backfill'];
  const badUrl = concurrently(badUrlCommands, (command) =>
    cli([...command.split(' '), '--json'], { DATABASE_URL: 'postgres//luckygas@127.0.0.1/luckygas', TEMPORAL_TASK_QUEUE: queue(`bad-url-${slug(command)}`) }),
  );
  it.each(badUrlCommands.map((c) => [c]))('%s with a malformed DATABASE_URL is a configuration error (exit 2) naming DATABASE_URL', async (command) => {
    const r = await badUrl(command);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/DATABASE_URL/);
  }, 120_000);

  const noTemporalCommands = ['sync-once', 'backfill --table clients', 'held-back retry', 'check', 'schedule describe', 'schedule create'];
  const noTemporal = concurrently(noTemporalCommands, (command) =>
    cli(command.split(' '), { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_TASK_QUEUE: queue(`no-temporal-${slug(command)}`) }),
  );
  it.each(noTemporalCommands.map((c) => [c]))('%s with Temporal unreachable exits 3: cannot reach Temporal', async (command) => {
    const r = await noTemporal(command);
    expectExit(r, 3);
    expect(r.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  }, 120_000);

  const badConfigCommands = ['sync-once', 'status', 'backfill', 'held-back retry', 'check', 'triggers install'];
  const badConfig = concurrently(badConfigCommands, (command) => {
    // Written once: rewriting it for each command would let another one read it half written.
    const config = path.join(dir, 'tables-clientz.json');
    if (!existsSync(config)) writeFileSync(config, JSON.stringify({ tables: [{ legacyTable: 'clientz', newTable: 'customers', directions: ['legacy-to-new'] }] }));
    return cli(command.split(' '), { SYNC_TABLES_CONFIG: config, TEMPORAL_TASK_QUEUE: queue(`bad-config-${slug(command)}`) }, { timeoutMs: 45_000 });
  });
  it.each(badConfigCommands.map((c) => [c]))('%s with a table configuration naming an unknown table is a configuration error (exit 2) naming it', async (command) => {
    const r = await badConfig(command);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/unknown legacy table 'clientz'/);
  }, 180_000);

  const badTableCommands = ['sync-once', 'backfill', 'held-back list', 'held-back retry', 'check', 'triggers install', 'triggers remove'];
  const badTable = concurrently(badTableCommands, (command) =>
    cli([...command.split(' '), '--table', 'clientz'], { TEMPORAL_TASK_QUEUE: queue(`bad-table-${slug(command)}`) }, { timeoutMs: 45_000 }),
  );
  it.each(badTableCommands.map((c) => [c]))('%s --table clientz is a usage error (exit 2) naming the table and the configured ones', async (command) => {
    const r = await badTable(command);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/'clientz'/);
    for (const known of Object.keys(GENERATED)) expect(r.stderr).toMatch(new RegExp(`\\b${known}\\b`));
  }, 180_000);

  // A database that does not exist (or a wrong password) is a setting to fix, not a fault
  // to retry: the commands say so at once, naming DATABASE_URL but not its password.
  const missingDbCommands = ['sync-once', 'backfill --table clients', 'held-back retry', 'check', 'status', 'held-back list'];
  const missingDb = concurrently(missingDbCommands, (command) => {
    const url = new URL(db.url);
    url.username = 'luckygas';
    url.password = 'pw-not-to-print';
    url.pathname = '/luckygas_no_such_db';
    return cli(command.split(' '), { DATABASE_URL: url.toString(), TEMPORAL_TASK_QUEUE: queue(`missing-db-${slug(command)}`) }, { timeoutMs: 90_000 });
  });
  it.each(missingDbCommands.map((c) => [c]))('%s with DATABASE_URL naming a database that does not exist fails at once (exit 2) naming DATABASE_URL', async (command) => {
    const r = await missingDb(command);
    expectExit(r, 2, 'A configuration error must not be retried.');
    expect(r.stderr).toMatch(/PostgreSQL refused DATABASE_URL \(postgresql:\/\/luckygas:\*\*\*@[^)]+\/luckygas_no_such_db\): database "luckygas_no_such_db" does not exist/);
    expect(r.stderr + r.stdout).not.toContain('pw-not-to-print');
    expect(r.stdout).toBe('');
  }, 120_000);

  it('sync-once and status as a role PostgreSQL does not let in fail at once (exit 2) naming DATABASE_URL', async () => {
    const role = `${PREFIX.replace(/-/g, '_')}_nologin`;
    await pool.query(`CREATE ROLE ${role} NOLOGIN`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = 'pw-not-to-print';
      for (const command of ['sync-once', 'status']) {
        const r = await cli([command], { DATABASE_URL: url.toString(), TEMPORAL_TASK_QUEUE: queue(`nologin-${command}`) }, { timeoutMs: 90_000 });
        expectExit(r, 2, 'A configuration error must not be retried.');
        expect(r.stderr).toContain(`PostgreSQL refused DATABASE_URL (postgresql://${role}:***@`);
        expect(r.stderr).toContain(`role "${role}" is not permitted to log in`);
        expect(r.stderr).not.toContain('pw-not-to-print');
      }
    } finally {
      await pool.query(`DROP ROLE ${role}`);
    }
  }, 200_000);
});
