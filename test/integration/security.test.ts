import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';
import { runCli } from '../support/cli';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * What the sync may and may not do: it reads the legacy file without writing it (only the
 * write-back writes), data never becomes SQL, secrets stay out of what it prints and logs,
 * and every row it wrote can be traced to the run that wrote it.
 */

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const HOSTILE = `'); DROP TABLE orders; -- "x" \\ $1 %s`;

describe('security of the sync', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 81, clients: 40, drivers: 4, deliveries: 800 });
    const db = new Database(h.legacyPath);
    db.prepare('UPDATE clients SET invoice_title = CAST(? AS TEXT), notes = CAST(? AS TEXT) WHERE id = 1').run(legacyText(`大安${HOSTILE}`, 'cp950'), legacyText(HOSTILE, 'cp950'));
    db.prepare('UPDATE deliveries SET notes = CAST(? AS TEXT) WHERE id = 1').run(legacyText(HOSTILE, 'cp950'));
    db.close();
  });
  afterAll(async () => h?.close());

  it('reads the legacy file without changing a byte of it (no journal, no WAL, no lock file left)', async () => {
    const before = sha256(h.legacyPath);
    await h.runCycle();
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(800);
    expect(sha256(h.legacyPath)).toBe(before);
    for (const suffix of ['-journal', '-wal', '-shm']) expect(existsSync(h.legacyPath + suffix)).toBe(false);
  });

  it('stores text that looks like SQL as text', async () => {
    expect((await h.pool.query('SELECT name, notes FROM customers WHERE legacy_id = 1')).rows[0]).toEqual({ name: `大安${HOSTILE}`, notes: HOSTILE });
    expect((await h.pool.query('SELECT notes FROM orders WHERE legacy_id = 1')).rows[0].notes).toBe(HOSTILE);
  });

  it('traces every row it wrote, on both sides, to a recorded run in the journal', async () => {
    await h.pool.query(
      `INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes, updated_at)
       SELECT (SELECT id FROM customers ORDER BY id LIMIT 1), '2026-11-26', 1, 'pending', 900, '追蹤用', now() FROM generate_series(1, 5)`,
    );
    await h.runCycle(['deliveries']);
    for (const table of ['customers', 'drivers', 'orders']) {
      // A load into an empty table journals the range of ids it inserted (row_id..last_row_id).
      const untraced = await count(h.pool, `SELECT count(*) FROM ${table} t WHERE NOT EXISTS (SELECT 1 FROM sync_journal j WHERE j.table_name = '${table}' AND t.id BETWEEN j.row_id AND COALESCE(j.last_row_id, j.row_id))
        AND NOT EXISTS (SELECT 1 FROM sync_journal j WHERE j.side = 'legacy' AND j.legacy_id = t.legacy_id AND '${table}' = 'orders')`);
      expect({ table, untraced }).toEqual({ table, untraced: 0 });
    }
    // Orders created in the new system: their legacy rows are journaled on the legacy side, with the run.
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal j JOIN orders o ON o.legacy_id = j.legacy_id WHERE j.side = 'legacy' AND j.operation = 'insert' AND o.notes = '追蹤用'`)).toBe(5);
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal j WHERE NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = j.run_id)')).toBe(0);
  });

  it('never prints or logs the database password, even at debug level', async () => {
    const url = new URL(h.env.DATABASE_URL);
    url.username = 'luckygas';
    url.password = 'pw-S3cret-77';
    const env = { DATABASE_URL: url.toString(), REDIS_URL: h.env.REDIS_URL, TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS, LEGACY_DB_PATH: h.legacyPath, TEMPORAL_TASK_QUEUE: `${h.env.TEMPORAL_TASK_QUEUE}-secret`, LOG_LEVEL: 'debug' };
    for (const args of [['sync-once', '--json'], ['status', '--json'], ['health', '--json']]) {
      const r = await runCli(args, { env, timeoutMs: 120_000 });
      expect({ args, code: r.code }).toEqual({ args, code: expect.any(Number) });
      expect(r.stdout + r.stderr).not.toContain('pw-S3cret-77');
    }
    // And a database that refuses the URL: the error names it, masked.
    url.pathname = '/luckygas_no_such_db';
    const r = await runCli(['sync-once'], { env: { ...env, DATABASE_URL: url.toString() }, timeoutMs: 120_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('luckygas:***@');
    expect(r.stdout + r.stderr).not.toContain('pw-S3cret-77');
  }, 300_000);
});
