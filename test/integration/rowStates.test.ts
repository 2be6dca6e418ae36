import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { PROJECT_ROOT } from '../../src/paths';
import { loadStates, readRowStates, recordWrittenBack, writeRowStates } from '../../src/state/rowState';
import { createTestDatabase } from '../support/testDatabase';

/** sync_row_state's partitions and their bounds, and the partitions of its key with their columns. */
async function layout(db: pg.Pool | pg.Client): Promise<{ partitions: Record<string, string>; keys: string[] }> {
  const children = async (parent: string) =>
    (
      await db.query<{ name: string; bound: string; columns: string }>(
        `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, substring(pg_get_indexdef(c.oid) from '\\(.*\\)$') AS columns
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [parent],
      )
    ).rows;
  return {
    partitions: Object.fromEntries((await children('sync_row_state')).map((r) => [r.name, r.bound])),
    keys: (await children('sync_row_state_pkey')).map((r) => `${r.name} ${r.columns}`),
  };
}

describe('row states, one partition per table', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await drop?.();
  });

  it("gives a table whose states a cycle writes first a partition of its own, with its part of the key", async () => {
    expect(await layout(pool)).toEqual({ partitions: {}, keys: [] });
    await writeRowStates(pool, 'clients', [
      { legacyId: 7, hash: 'h7', ts: '2030-01-01 00:00:00', base: 'now', legacyBase: null },
      { legacyId: 8, hash: 'h8', ts: null, base: 'now', legacyBase: null },
    ]);
    await recordWrittenBack(pool, 'deliveries', [{ legacyId: 3, hash: 'd3', ts: '2030-01-02 00:00:00', base: { amount: 800 } }]);
    expect(await layout(pool)).toEqual({
      partitions: { sync_row_state_clients: "FOR VALUES IN ('clients')", sync_row_state_deliveries: "FOR VALUES IN ('deliveries')" },
      keys: ['sync_row_state_clients_pkey (legacy_id, table_name)', 'sync_row_state_deliveries_pkey (legacy_id, table_name)'],
    });

    // Written again: the state is updated in place, through the key.
    await writeRowStates(pool, 'clients', [{ legacyId: 7, hash: 'h7b', ts: '2030-01-03 00:00:00', base: 'now', legacyBase: null }]);
    const states = await readRowStates(pool, 'clients', [7, 8, 9]);
    expect([...states.values()].map((s) => [s.legacyId, s.contentHash, s.legacyTs])).toEqual([
      [7, 'h7b', '2030-01-03 00:00:00'],
      [8, 'h8', null],
    ]);
    expect((await readRowStates(pool, 'deliveries', [3])).get(3)).toMatchObject({ contentHash: 'd3', base: { amount: 800 } });
    await expect(pool.query(`INSERT INTO sync_row_state (table_name, legacy_id, content_hash) VALUES ('clients', 8, 'x')`)).rejects.toMatchObject({ code: '23505' });
  });

  it("lets other tables' states be read and written while a load fills and attaches its table's partition", async () => {
    const load = await pool.connect();
    try {
      await load.query('BEGIN');
      const states = await loadStates(load, 'drivers');
      expect(states.into).toBe('"sync_row_state_drivers"');
      await load.query(`INSERT INTO ${states.into} (table_name, legacy_id, content_hash) SELECT 'drivers', g, 'h' || g FROM generate_series(1, 500) g`);
      // Until attached, a CHECK of its bound refuses another table's state...
      await load.query('SAVEPOINT other_table');
      await expect(load.query(`INSERT INTO ${states.into} (table_name, legacy_id, content_hash) VALUES ('clients', 1, 'h')`)).rejects.toMatchObject({ code: '23514' });
      await load.query('ROLLBACK TO SAVEPOINT other_table');
      // ...so that attaching need not read every state to prove they belong (PostgreSQL says so at DEBUG1).
      const notices: string[] = [];
      load.on('notice', (n) => notices.push(n.message ?? ''));
      await load.query(`SET LOCAL client_min_messages = debug1`);
      await states.done();
      await load.query(`SET LOCAL client_min_messages = notice`);
      expect(notices).toContain('partition constraint for table "sync_row_state_drivers" is implied by existing constraints');
      // The load has not committed: another session neither waits for it nor sees its states.
      const other = await pool.connect();
      try {
        await other.query(`SET lock_timeout = '2s'`);
        await writeRowStates(other, 'clients', [{ legacyId: 9, hash: 'h9', ts: null, base: 'now', legacyBase: null }]);
        await other.query(`UPDATE sync_row_state SET base = '{"name": "x"}' WHERE table_name = 'clients' AND legacy_id = 7`);
        expect((await readRowStates(other, 'clients', [7, 9])).size).toBe(2);
        expect((await readRowStates(other, 'drivers', [1])).size).toBe(0);
      } finally {
        other.release();
      }
      await load.query('COMMIT');
    } finally {
      load.release();
    }
    expect((await layout(pool)).keys).toContain('sync_row_state_drivers_pkey (legacy_id, table_name)');
    expect((await pool.query(`SELECT count(*)::int AS n FROM sync_row_state WHERE table_name = 'drivers'`)).rows[0].n).toBe(500);
    // Attached, the bound holds the partition: its CHECK is gone.
    expect((await pool.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'sync_row_state_drivers'::regclass AND contype = 'c'`)).rows).toEqual([]);
  });
});

describe('the migrations that partition row states and put the id first in their key', () => {
  // An empty database, migrated as an install made before the partitions were, with states in it.
  const server = new URL(process.env.TEST_DATABASE_URL ?? 'postgresql://unset');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const on = (database: string) => new pg.Client({ connectionString: Object.assign(new URL(server), { pathname: `/${database}` }).toString() });
  let old: pg.Client;
  beforeAll(async () => {
    const admin = on('postgres');
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
    await admin.end();
    old = on(name);
    await old.connect();
  });
  afterAll(async () => {
    await old?.end();
    const admin = on('postgres');
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('keeps every state of an install, each table in its partition, under one key', async () => {
    const dir = path.join(PROJECT_ROOT, 'prisma', 'migrations');
    const migrations = readdirSync(dir)
      .filter((m) => /^\d{14}_/.test(m))
      .sort();
    const at = migrations.indexOf('20261201000000_row_state_partitions');
    expect(at).toBeGreaterThan(0);
    for (const m of migrations.slice(0, at)) await old.query(readFileSync(path.join(dir, m, 'migration.sql'), 'utf8'));
    await old.query(
      `INSERT INTO sync_row_state (table_name, legacy_id, content_hash, legacy_ts, base, legacy_base, review_id) VALUES
         ('clients', 1, 'c1', '2020-01-01 10:00:00', NULL, NULL, NULL),
         ('clients', 2, '', NULL, '{"name": "中和行"}', NULL, NULL),
         ('deliveries', 1, 'd1', '2020-01-02 08:00:00', NULL, '{"amount": 800}', 5)`,
    );
    const before = (await old.query(`SELECT * FROM sync_row_state ORDER BY table_name, legacy_id`)).rows;
    expect(before).toHaveLength(3);

    await old.query(readFileSync(path.join(dir, migrations[at], 'migration.sql'), 'utf8'));

    expect((await old.query(`SELECT * FROM sync_row_state ORDER BY table_name, legacy_id`)).rows).toEqual(before);
    expect(await layout(old)).toEqual({
      partitions: { sync_row_state_clients: "FOR VALUES IN ('clients')", sync_row_state_deliveries: "FOR VALUES IN ('deliveries')" },
      keys: ['sync_row_state_clients_pkey (table_name, legacy_id)', 'sync_row_state_deliveries_pkey (table_name, legacy_id)'],
    });
    const rows = await old.query<{ table: string; n: string }>(`SELECT tableoid::regclass::text AS table, count(*) AS n FROM sync_row_state GROUP BY 1 ORDER BY 1`);
    expect(rows.rows).toEqual([
      { table: 'sync_row_state_clients', n: '2' },
      { table: 'sync_row_state_deliveries', n: '1' },
    ]);
    // The old table is gone, and the partitions keep room on their pages for updates.
    expect((await old.query(`SELECT to_regclass('sync_row_state_unpartitioned') AS t`)).rows[0].t).toBeNull();
    expect((await old.query(`SELECT reloptions FROM pg_class WHERE relname = 'sync_row_state_deliveries'`)).rows[0].reloptions).toEqual(['fillfactor=90']);

    // The key's columns swapped (row_state_key_order): every state kept, each partition's key rebuilt, still one key.
    const later = migrations.slice(at + 1);
    expect(later[0]).toBe('20261201100000_row_state_key_order');
    for (const m of later) await old.query(readFileSync(path.join(dir, m, 'migration.sql'), 'utf8'));
    expect((await old.query(`SELECT * FROM sync_row_state ORDER BY table_name, legacy_id`)).rows).toEqual(before);
    expect((await layout(old)).keys).toEqual(['sync_row_state_clients_pkey (legacy_id, table_name)', 'sync_row_state_deliveries_pkey (legacy_id, table_name)']);
    expect((await old.query(`SELECT pg_get_indexdef('sync_row_state_pkey'::regclass) AS def`)).rows[0].def).toMatch(/\(legacy_id, table_name\)$/);
    await expect(old.query(`INSERT INTO sync_row_state (table_name, legacy_id, content_hash) VALUES ('clients', 2, 'x')`)).rejects.toMatchObject({ code: '23505' });
    await old.query(`INSERT INTO sync_row_state (table_name, legacy_id, content_hash) VALUES ('deliveries', 2, 'x')`);
  });
});
