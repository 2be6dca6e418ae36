import Database from 'better-sqlite3';
import { generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';
import { loadEudcMap } from '../../src/encoding/eudc';
import { convertRow } from '../../src/convert/toNew';
import { TABLE_MAPPINGS } from '../../src/convert/tables';
import { readByIds } from '../../src/capture/legacyReader';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';
import { BackfillWorkflow } from '../../workflows';

/** Inserts a client with chosen bytes; returns its id. */
function insertClient(db: Database.Database, values: { id?: number; code: string; title: Buffer | string | null; short?: Buffer | string | null; contact?: Buffer | string | null; updated: string }): number {
  const r = db
    .prepare(
      `INSERT INTO clients (id, client_code, invoice_title, short_name, contact_person, is_active, created_at, updated_at)
       VALUES (?, ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), 1, ?, ?)`,
    )
    .run(values.id ?? null, values.code, values.title, values.short ?? null, values.contact ?? null, '2020-01-01 10:00:00', values.updated);
  return Number(r.lastInsertRowid);
}

describe('legacy → new sync on Temporal', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 7, clients: 300, drivers: 25, deliveries: 3000 });
  });
  afterAll(async () => h?.close());

  it('syncs a generated legacy file completely, every row as the contract maps it', async () => {
    const summary = await h.runCycle();
    expect(summary.tables.map((t) => `${t.table} ${t.direction}`)).toEqual([
      'clients legacy-to-new',
      'drivers legacy-to-new',
      'deliveries legacy-to-new',
      'deliveries new-to-legacy',
    ]);
    expect(await count(h.pool, 'SELECT count(*) FROM customers')).toBe(300);
    expect(await count(h.pool, 'SELECT count(*) FROM drivers')).toBe(25);
    const held = await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE resolved_at IS NULL`);
    expect(held).toBe(0);
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(3000);
    // Each load wrote its table's row states into a partition of their own and built its part
    // of the key once, at the end (loadStates): every state is there, each under the key.
    const partitions = await h.pool.query<{ name: string; bound: string; key: string | null }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
              (SELECT k.relname FROM pg_inherits ki JOIN pg_class k ON k.oid = ki.inhrelid
                 JOIN pg_index x ON x.indexrelid = k.oid WHERE ki.inhparent = 'sync_row_state_pkey'::regclass AND x.indrelid = c.oid) AS key
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sync_row_state'::regclass ORDER BY 1`,
    );
    expect(partitions.rows).toEqual(
      ['clients', 'deliveries', 'drivers'].map((t) => ({ name: `sync_row_state_${t}`, bound: `FOR VALUES IN ('${t}')`, key: `sync_row_state_${t}_pkey` })),
    );
    const states = await h.pool.query<{ t: string; n: string }>(`SELECT table_name AS t, count(*) AS n FROM sync_row_state GROUP BY 1 ORDER BY 1`);
    expect(states.rows).toEqual([
      { t: 'clients', n: '300' },
      { t: 'deliveries', n: '3000' },
      { t: 'drivers', n: '25' },
    ]);
    // Each load committed the planner's statistics of what it wrote, rather than leaving the
    // tables' sizes unknown until autovacuum.
    const stats = await h.pool.query<{ relname: string; reltuples: number }>(`SELECT relname, reltuples FROM pg_class WHERE relname IN ('orders', 'sync_row_state_deliveries')`);
    expect(Object.fromEntries(stats.rows.map((r) => [r.relname, Number(r.reltuples)]))).toEqual({ orders: 3000, sync_row_state_deliveries: 3000 });
    // From the load's small sample (10 histogram buckets, not the default 100), unless autovacuum analyzed the table since.
    const bounds = await h.pool.query<{ n: number; auto: boolean }>(
      `SELECT array_length(histogram_bounds::text::bigint[], 1) AS n,
              (SELECT last_autoanalyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'orders') AS auto
         FROM pg_stats WHERE tablename = 'orders' AND attname = 'legacy_id'`,
    );
    expect(bounds.rows[0].auto || bounds.rows[0].n === 11).toBe(true);

    // Every PostgreSQL row equals the contract mapping of its legacy row.
    const db = new Database(h.legacyPath, { readonly: true });
    const eudc = loadEudcMap();
    for (const [legacy, newTable] of [['clients', 'customers'], ['drivers', 'drivers']] as const) {
      const mapping = TABLE_MAPPINGS[legacy];
      const ids = (db.prepare(`SELECT id FROM ${legacy}`).raw().all() as number[][]).map((r) => r[0]);
      const rows = readByIds(db, mapping, ids);
      const got = await h.pool.query(`SELECT to_jsonb(t) AS row FROM ${newTable} t ORDER BY legacy_id`);
      const byLegacy = new Map(got.rows.map((r) => [r.row.legacy_id, r.row]));
      for (const raw of rows) {
        const conv = convertRow(raw, mapping, {}, eudc);
        expect(conv.ok).toBe(true);
        if (!conv.ok) continue;
        const row = byLegacy.get(raw.id);
        for (const [col, v] of Object.entries(conv.row.values)) {
          const actual = mapping.newColumns[col] === 'timestamptz' ? new Date(row[col]).toISOString() : row[col];
          expect({ id: raw.id, col, v: actual }).toEqual({ id: raw.id, col, v });
        }
      }
    }
    db.close();
  });

  it('writes nothing on a cycle where nothing changed', async () => {
    const journal = await count(h.pool, 'SELECT count(*) FROM sync_journal');
    const summary = await h.runCycle();
    expect(summary.tables.reduce((n, t) => n + t.written, 0)).toBe(0);
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal')).toBe(journal);
  });

  it('updates synced rows on their own page (fillfactor 90: HOT updates, no new index entries)', async () => {
    const ids = [11, 512, 1024, 2047, 2999];
    const db = new Database(h.legacyPath);
    const before = db.prepare(`SELECT id, cylinder_20kg FROM deliveries WHERE id IN (${ids.join(',')}) ORDER BY id`).all() as { id: number; cylinder_20kg: number }[];
    // Stamped with the newest timestamp already synced: inside the lookback, and no later than what the next tests stamp.
    db.prepare(`UPDATE deliveries SET cylinder_20kg = cylinder_20kg + 1, updated_at = (SELECT max(updated_at) FROM deliveries) WHERE id IN (${ids.join(',')})`).run();
    db.close();
    const page = `(ctid::text::point)[0]::int`;
    const pages = async () => (await h.pool.query(`SELECT legacy_id, ${page} AS page, qty_20kg FROM orders WHERE legacy_id = ANY($1) ORDER BY legacy_id`, [ids])).rows;
    const loaded = await pages();
    await h.runCycle();
    const updated = await pages();
    expect(updated).toEqual(loaded.map((r, i) => ({ legacy_id: r.legacy_id, page: r.page, qty_20kg: before[i].cylinder_20kg + 1 })));
  });

  it('decodes every storage form exactly and holds back undecodable bytes while the rest lands', async () => {
    const db = new Database(h.legacyPath);
    const eudc = loadEudcMap();
    const codes = [...eudc.toChar.entries()];
    const t = '2030-01-01 00:00:00';
    const ok: Record<number, string> = {};
    codes.forEach(([code, ch], i) => {
      const bytes = Buffer.concat([legacyText('林', 'cp950') as Buffer, Buffer.from([code >> 8, code & 0xff]), legacyText('明', 'cp950') as Buffer]);
      ok[insertClient(db, { code: `E${i}`, title: bytes, updated: t })] = `林${ch}明`;
    });
    ok[insertClient(db, { code: 'U1', title: '大安瓦斯行（UTF-8）', updated: t })] = '大安瓦斯行（UTF-8）';
    ok[insertClient(db, { code: 'P1', title: legacyText('\u3000 順發行 \u3000', 'cp950'), updated: t })] = '順發行';
    const unknownEudc = insertClient(db, { code: 'X1', title: Buffer.from([0xa4, 0xa4, 0xfa, 0x50]), updated: t });
    const truncated = insertClient(db, { code: 'X2', title: Buffer.from([0x41, 0xa4]), updated: t });
    const noName = insertClient(db, { code: 'X3', title: legacyText('  ', 'cp950'), short: null, updated: t });
    db.close();

    await h.runCycle(['clients']);
    for (const [id, name] of Object.entries(ok)) {
      const res = await h.pool.query('SELECT name FROM customers WHERE legacy_id = $1', [Number(id)]);
      expect(res.rows[0]?.name).toBe(name);
    }
    const held = await h.pool.query(`SELECT row_id::int AS id, reason_kind, reason, raw FROM sync_held_back WHERE resolved_at IS NULL ORDER BY row_id`);
    expect(held.rows.map((r) => r.id)).toEqual([unknownEudc, truncated, noName]);
    expect(held.rows[0].reason).toMatch(/invoice_title: unknown EUDC code FA50 at offset 2/);
    expect(held.rows[0].raw.invoice_title).toBe('a4a4fa50');
    expect(held.rows[1].reason).toMatch(/invoice_title: truncated CP950 sequence 0xA4 at offset 1/);
    expect(held.rows[2].reason_kind).toBe('rule');
    expect(await count(h.pool, 'SELECT count(*) FROM customers WHERE legacy_id = ANY($1)', [[unknownEudc, truncated, noName]])).toBe(0);
    const text = await h.pool.query(`SELECT count(*)::int AS n FROM customers WHERE name ~ '[?\uFFFD]'`);
    expect(text.rows[0].n).toBe(0);

    // Fixed at the source, the row is retried by the change itself and the hold is resolved.
    const db2 = new Database(h.legacyPath);
    db2.prepare('UPDATE clients SET invoice_title = CAST(? AS TEXT), updated_at = ? WHERE id = ?').run(legacyText('中和行', 'cp950'), '2030-01-01 00:00:05', unknownEudc);
    db2.close();
    await h.runCycle(['clients']);
    expect((await h.pool.query('SELECT name FROM customers WHERE legacy_id = $1', [unknownEudc])).rows[0]?.name).toBe('中和行');
    expect(await count(h.pool, 'SELECT count(*) FROM sync_held_back WHERE row_id = $1 AND resolved_at IS NOT NULL', [unknownEudc])).toBe(1);
  });

  it('sees a late commit inside the lookback window, and a delivery whose customer arrives later', async () => {
    const db = new Database(h.legacyPath);
    db.pragma('foreign_keys = OFF'); // the legacy application does not enforce them either
    const wm = (await h.pool.query(`SELECT cursor_ts FROM sync_state WHERE table_name = 'clients'`)).rows[0].cursor_ts as string;
    // Committed now, but stamped 30 s before the watermark (inside the 120 s lookback).
    const late = insertClient(db, { code: 'LATE1', title: legacyText('遲到行', 'cp950'), updated: wm.replace(/:(\d\d)$/, (_m, s) => `:${String(Math.max(0, Number(s) - 30)).padStart(2, '0')}`) });
    // A delivery pointing at a client that is not in legacy yet.
    const futureClient = 900000;
    db.prepare(
      `INSERT INTO deliveries (client_id, driver_id, delivery_date, status, amount, created_at, updated_at)
       VALUES (?, NULL, '2030-01-02', CAST(? AS TEXT), 800, '2030-01-02 08:00:00', '2030-01-02 08:00:00')`,
    ).run(futureClient, legacyText('待配送', 'cp950'));
    db.close();

    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM customers WHERE legacy_id = $1', [late])).toBe(1);
    // It waits in the parent queue, not among the rows held back for breaking a rule.
    const waiting = await h.pool.query(`SELECT queue, reason FROM sync_row_queue WHERE table_name = 'deliveries'`);
    expect(waiting.rows).toEqual([{ queue: 'parent', reason: expect.stringMatching(/client_id 900000 has no customers row yet/) }]);
    expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE table_name = 'deliveries' AND resolved_at IS NULL`)).toBe(0);

    const db2 = new Database(h.legacyPath);
    insertClient(db2, { id: futureClient, code: 'C900000', title: legacyText('新客戶', 'cp950'), updated: '2030-01-03 00:00:00' });
    db2.close();
    await h.runCycle();
    const order = await h.pool.query(
      `SELECT o.status, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.legacy_id = $1`,
      [futureClient],
    );
    expect(order.rows).toEqual([{ status: 'pending', name: '新客戶' }]);
    expect(await count(h.pool, `SELECT count(*) FROM sync_row_queue WHERE table_name = 'deliveries'`)).toBe(0);
  });
});

describe('a first sync prepared on the loading thread alone (LOAD_THREADS=0)', () => {
  // 11,000 clients and 12,000 deliveries: three load pages each, so a threaded load uses its
  // threads (clients one, for their natural key; deliveries two, pages returning in order
  // across them), and the deliveries' load takes threads started during the clients' load.
  const load = async (env: Record<string, string>) => {
    const h = await startHarness({ env });
    try {
      generateLegacyDb({ path: h.legacyPath, seed: 11, clients: 11_000, drivers: 10, deliveries: 12_000 });
      await h.runCycle();
      const rows = async (table: string) =>
        (await h.pool.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) - 'created_at' - 'updated_at' AS row FROM ${table} t ORDER BY id`)).rows.map((r) => r.row);
      const states = await h.pool.query<{ table_name: string; legacy_id: number; content_hash: string }>(
        `SELECT table_name, legacy_id, content_hash FROM sync_row_state WHERE table_name IN ('clients', 'deliveries') ORDER BY table_name, legacy_id`,
      );
      return { customers: await rows('customers'), orders: await rows('orders'), states: states.rows };
    } finally {
      await h.close();
    }
  };

  it('writes the very rows and row states the threaded load writes', async () => {
    const alone = await load({ LOAD_THREADS: '0' });
    const threaded = await load({ LOAD_THREADS: '2' });
    expect(alone.customers).toHaveLength(11_000);
    expect(alone.orders).toHaveLength(12_000);
    expect(alone.states).toHaveLength(23_000);
    expect(alone.customers).toEqual(threaded.customers);
    expect(alone.orders).toEqual(threaded.orders);
    expect(alone.states).toEqual(threaded.states);
  });
});

describe('a load into a table earlier runs left empty', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 13, clients: 1, drivers: 1, deliveries: 0 });
  });
  afterAll(async () => h?.close());

  const backfill = (table: string) =>
    h.client.workflow.execute(BackfillWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `backfill/${table}/${h.env.TEMPORAL_TASK_QUEUE}`, args: [{ table }] });

  it('resolves the rows they held back and settles the rows they queued, once it reads them', async () => {
    const db = new Database(h.legacyPath);
    db.pragma('foreign_keys = OFF');
    // The only client cannot be decoded (FA50 is not in the EUDC map); the only delivery's client is not in legacy yet.
    db.prepare('UPDATE clients SET invoice_title = CAST(? AS TEXT), short_name = NULL WHERE id = 1').run(Buffer.from([0xa4, 0xa4, 0xfa, 0x50]));
    const delivery = Number(
      db
        .prepare(
          `INSERT INTO deliveries (client_id, driver_id, delivery_date, status, amount, created_at, updated_at)
           VALUES (900000, NULL, '2030-01-02', CAST(? AS TEXT), 800, '2030-01-02 08:00:00', '2030-01-02 08:00:00')`,
        )
        .run(legacyText('待配送', 'cp950')).lastInsertRowid,
    );
    db.close();
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM customers')).toBe(0);
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(0);
    expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE table_name = 'clients' AND row_id = 1 AND resolved_at IS NULL`)).toBe(1);
    expect(await count(h.pool, `SELECT count(*) FROM sync_row_queue WHERE table_name = 'deliveries' AND queue = 'parent' AND row_id = $1`, [delivery])).toBe(1);

    const db2 = new Database(h.legacyPath);
    db2.prepare(`UPDATE clients SET invoice_title = CAST(? AS TEXT), updated_at = '2030-01-03 00:00:00' WHERE id = 1`).run(legacyText('中和行', 'cp950'));
    insertClient(db2, { id: 900000, code: 'C900000', title: legacyText('新客戶', 'cp950'), updated: '2030-01-03 00:00:00' });
    db2.close();
    await backfill('clients');
    await backfill('deliveries');

    // Both went into their empty tables at once: each journaled one range of ids.
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal WHERE table_name IN ('customers', 'orders') AND last_row_id IS NOT NULL`)).toBe(2);
    expect((await h.pool.query(`SELECT name FROM customers ORDER BY legacy_id`)).rows.map((r) => r.name)).toEqual(['中和行', '新客戶']);
    expect(await count(h.pool, `SELECT count(*) FROM orders WHERE legacy_id = $1`, [delivery])).toBe(1);
    expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE resolved_at IS NULL`)).toBe(0);
    expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE table_name = 'clients' AND row_id = 1 AND resolved_at IS NOT NULL`)).toBe(1);
    expect(await count(h.pool, `SELECT count(*) FROM sync_row_queue`)).toBe(0);
    // The first cycle's loads made the tables' partitions of row states (clients' and
    // deliveries' empty: their one row was held back, or waited): these loads wrote into them, through their keys.
    const states = await h.pool.query<{ t: string; n: string }>(`SELECT tableoid::regclass::text AS t, count(*) AS n FROM sync_row_state GROUP BY 1 ORDER BY 1`);
    expect(states.rows).toEqual([
      { t: 'sync_row_state_clients', n: '2' },
      { t: 'sync_row_state_deliveries', n: '1' },
      { t: 'sync_row_state_drivers', n: '1' },
    ]);
  });
});
