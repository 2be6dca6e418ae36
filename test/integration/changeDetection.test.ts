import Database from 'better-sqlite3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCoreActivities, createLegacyActivities } from '../../activities';
import { installTriggers } from '../../src/capture/legacyTriggers';
import { generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';
import type { BatchResult, FetchResult } from '../../src/shared';
import { configWith, count, startHarness, type SyncHarness } from '../support/syncHarness';

const insertDelivery = (db: Database.Database, clientId: number, updatedAt: string, amount: number) =>
  Number(
    db
      .prepare(
        `INSERT INTO deliveries (client_id, driver_id, delivery_date, cylinder_20kg, status, amount, created_at, updated_at)
         VALUES (?, NULL, '2030-02-01', 1, CAST(? AS TEXT), ?, '2030-02-01 08:00:00', ?)`,
      )
      .run(clientId, legacyText('已送達', 'cp950'), amount, updatedAt).lastInsertRowid,
  );

describe('change detection by timestamp', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness({ config: configWith((t) => t.forEach((x) => (x.batchSize = 100))) });
    generateLegacyDb({ path: h.legacyPath, seed: 3, clients: 40, drivers: 4, deliveries: 250 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('brings every row of a same-second burst larger than a batch', async () => {
    const db = new Database(h.legacyPath);
    const ids: number[] = [];
    for (let i = 0; i < 350; i++) ids.push(insertDelivery(db, 1, '2030-02-01 09:00:00', 10_000 + i));
    db.close();
    const summary = await h.runCycle(['deliveries']);
    const deliveries = summary.tables.find((t) => t.table === 'deliveries' && t.direction === 'legacy-to-new')!;
    expect(deliveries.written).toBe(350);
    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE legacy_id = ANY($1)', [ids])).toBe(350);
    expect(await count(h.pool, 'SELECT count(DISTINCT amount) FROM orders WHERE legacy_id = ANY($1)', [ids])).toBe(350);
  });

  it('applies a replayed batch once: the second apply changes nothing', async () => {
    const db = new Database(h.legacyPath);
    const id = insertDelivery(db, 2, '2030-02-02 09:00:00', 4242);
    db.close();
    const core = createCoreActivities(h.workers!.core!);
    const legacy = createLegacyActivities(h.workers!.legacy!);
    const env = new MockActivityEnvironment();
    const runId = 'replay-test';
    await h.pool.query(`INSERT INTO sync_runs (id, kind, table_name, direction, workflow_id, status) VALUES ($1, 'table', 'deliveries', 'legacy-to-new', $1, 'running')`, [runId]);
    const batchKey = `${runId}#0`;
    const fetched = (await env.run(legacy.capturePage, { table: 'deliveries', batchKey, cursor: { ts: '2030-02-02 08:59:59', id: 0 }, batchSize: 100 })) as FetchResult;
    expect(fetched.count).toBe(1);
    const apply = { table: 'deliveries', runId, batchKey, mode: 'timestamp' as const, cursor: fetched.next };
    const first = (await env.run(core.applyBatch, apply)) as BatchResult;
    const journal = await count(h.pool, 'SELECT count(*) FROM sync_journal');
    // The retry of an apply whose claim is gone meanwhile: the batch key answers, nothing is read.
    await env.run(legacy.capturePage, { table: 'deliveries', batchKey, cursor: { ts: '2030-02-02 08:59:59', id: 0 }, batchSize: 100 });
    const second = (await env.run(core.applyBatch, apply)) as BatchResult;
    expect(first).toMatchObject({ written: 1, replayed: false });
    expect(second).toMatchObject({ written: 1, replayed: true });
    expect(await count(h.pool, 'SELECT count(*) FROM sync_journal')).toBe(journal);
    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE legacy_id = $1', [id])).toBe(1);
    expect(await count(h.pool, `SELECT rows_written FROM sync_runs WHERE id = $1`, [runId])).toBe(1);
  });
});

describe('change detection by triggers', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness({
      config: configWith((t) => t.forEach((x) => ((x.changeDetection = 'trigger'), (x.batchSize = 50)))),
    });
    generateLegacyDb({ path: h.legacyPath, seed: 5, clients: 30, drivers: 3, deliveries: 120 });
    const db = new Database(h.legacyPath);
    installTriggers(db, ['clients', 'drivers', 'deliveries']);
    db.close();
  });
  afterAll(async () => h?.close());

  it('catches up by itself: a file with triggers installed on existing rows syncs completely on an empty database', async () => {
    // Rows that existed before the triggers are in no queue: the first cycle reads the tables, then follows the queue.
    const summary = await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM customers')).toBe(30);
    expect(await count(h.pool, 'SELECT count(*) FROM drivers')).toBe(3);
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(120);
    expect(summary.tables.find((t) => t.table === 'deliveries' && t.direction === 'legacy-to-new')!.written).toBe(120);
    const state = await h.pool.query(`SELECT table_name, mode FROM sync_state WHERE direction = 'legacy-to-new' ORDER BY table_name`);
    expect(state.rows).toEqual(['clients', 'deliveries', 'drivers'].map((table_name) => ({ table_name, mode: 'trigger' })));
  });

  it('sees inserts, updates and deletes through sync_queue, deletes as deleted_at', async () => {
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(120);
    const db = new Database(h.legacyPath);
    db.pragma('foreign_keys = OFF');
    const inserted = insertDelivery(db, 1, '2000-01-01 00:00:00', 777); // an old timestamp: triggers still see it
    db.prepare('UPDATE deliveries SET amount = 999 WHERE id = 5').run();
    db.prepare('UPDATE deliveries SET amount = 998 WHERE id = 5').run(); // two entries, one current state
    db.prepare('DELETE FROM deliveries WHERE id = 7').run();
    db.prepare('UPDATE clients SET short_name = CAST(? AS TEXT) WHERE id = 3').run(legacyText('新名字', 'cp950'));
    db.close();

    await h.runCycle();
    expect((await h.pool.query('SELECT amount FROM orders WHERE legacy_id = $1', [inserted])).rows[0]?.amount).toBe(777);
    expect((await h.pool.query('SELECT amount FROM orders WHERE legacy_id = 5')).rows[0].amount).toBe(998);
    const gone = (await h.pool.query('SELECT deleted_at FROM orders WHERE legacy_id = 7')).rows[0];
    expect(gone.deleted_at).not.toBeNull();
    expect((await h.pool.query('SELECT short_name FROM customers WHERE legacy_id = 3')).rows[0].short_name).toBe('新名字');
    const journal = await h.pool.query(`SELECT operation FROM sync_journal WHERE table_name = 'orders' AND legacy_id = 7 ORDER BY id DESC LIMIT 1`);
    expect(journal.rows[0].operation).toBe('delete');
    const state = await h.pool.query(`SELECT mode, cursor_id::int FROM sync_state WHERE table_name = 'deliveries' AND direction = 'legacy-to-new'`);
    expect(state.rows[0].mode).toBe('trigger');
    expect(state.rows[0].cursor_id).toBeGreaterThan(0);

    // Nothing new in the queue: the next cycle writes nothing.
    const summary = await h.runCycle();
    expect(summary.tables.reduce((n, t) => n + t.written, 0)).toBe(0);
  });
});

describe('moving a table from timestamp to trigger mode', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 8, clients: 20, drivers: 3, deliveries: 60 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('reads what changed between the last timestamp cycle and the triggers, then follows the queue', async () => {
    const db = new Database(h.legacyPath);
    // Changed after the last timestamp cycle and before the triggers: in no queue.
    db.prepare(`UPDATE deliveries SET amount = 31337, updated_at = '2031-03-03 03:03:03' WHERE id = 11`).run();
    installTriggers(db, ['clients', 'drivers', 'deliveries']);
    db.close();
    h.setConfig(configWith((t) => t.forEach((x) => (x.changeDetection = 'trigger'))));
    await h.runCycle();
    expect((await h.pool.query('SELECT amount FROM orders WHERE legacy_id = 11')).rows[0].amount).toBe(31337);
    const db2 = new Database(h.legacyPath);
    db2.prepare(`UPDATE deliveries SET amount = 4711 WHERE id = 12`).run(); // same updated_at: only the queue tells
    db2.close();
    await h.runCycle();
    expect((await h.pool.query('SELECT amount FROM orders WHERE legacy_id = 12')).rows[0].amount).toBe(4711);
    const state = await h.pool.query(`SELECT mode FROM sync_state WHERE table_name = 'deliveries' AND direction = 'legacy-to-new'`);
    expect(state.rows[0].mode).toBe('trigger');
  });
});
