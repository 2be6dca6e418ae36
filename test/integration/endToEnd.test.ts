import { spawn } from 'node:child_process';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { createOrUpdateSchedule } from '../../src/temporal/schedule';
import { targetOf } from '../../src/temporal/target';
import { contractDifferences } from '../support/contractCheck';
import Database from 'better-sqlite3';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';

const legacyDeliveries = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

/**
 * A large legacy file (20,000 deliveries: many pages; the bench loads 1M) syncs completely; then the legacy
 * application and the new system both keep editing (some deliveries on both sides at once)
 * while the schedule runs; in the end every PostgreSQL row is what the contract's rules make
 * of its legacy row, every conflict is recorded with its outcome, nothing was written twice.
 */

/** The legacy application: inserts and updates, stamped with the current Taipei time. */
const EDITOR = `
const D = require('better-sqlite3');
const iconv = require('iconv-lite');
const db = new D(process.argv[1], { timeout: 5000 });
const now = () => new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');
const status = iconv.encode('已派車', 'cp950');
const notes = iconv.encode('改過的備註', 'cp950');
const update = db.prepare('UPDATE deliveries SET amount = amount + 1, notes = CAST(? AS TEXT), status = CAST(? AS TEXT), updated_at = ? WHERE id = ?');
const insert = db.prepare("INSERT INTO deliveries (client_id, delivery_date, cylinder_16kg, status, amount, created_at, updated_at) VALUES (?, '2026-11-25', 2, CAST(? AS TEXT), 1800, ?, ?)");
let n = 0;
let inserts = 0;
const end = Date.now() + Number(process.argv[2]);
const deliveries = Number(process.argv[3]);
const clients = Number(process.argv[4]);
const tick = () => {
  if (Date.now() > end) { process.stdout.write(JSON.stringify({ edits: n, inserts })); db.close(); return; }
  // A burst: several rows in one second, as the legacy application writes them.
  db.transaction(() => {
    for (let i = 0; i < 20; i++) { update.run(notes, status, now(), i < 2 ? 1 + Math.floor(Math.random() * 40) : 1 + Math.floor(Math.random() * deliveries)); n++; }
    insert.run(1 + Math.floor(Math.random() * clients), status, now(), now()); n++; inserts++;
  })();
  setTimeout(tick, 200);
};
tick();
`;

describe('a large legacy file, then a stream of edits while the schedule runs', () => {
  let h: SyncHarness;
  const scheduleId = `e2e-${Date.now()}`;
  const DELIVERIES = 20_000;
  const CLIENTS = 400;
  const EDIT_MS = 10_000;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 42, clients: CLIENTS, drivers: 30, deliveries: DELIVERIES });
  });
  afterAll(async () => {
    await h.client.schedule.getHandle(scheduleId).delete().catch(() => {});
    await h?.close();
  });

  it('syncs completely, and every row equals its legacy row by the contract', async () => {
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(DELIVERIES);

    await createOrUpdateSchedule(h.client, h.env, targetOf(h.env, 'all'), { intervalSeconds: 3, scheduleId });
    const legacyBefore = legacyDeliveries(h.legacyPath);
    const editor = spawn(process.execPath, ['-e', EDITOR, h.legacyPath, String(EDIT_MS), String(DELIVERIES), String(CLIENTS)], { cwd: process.cwd() });
    let edits = '';
    editor.stdout.on('data', (d) => (edits += d));
    const legacyEditsDone = new Promise((r) => editor.once('exit', r));
    // The new system at the same time: edits (the first 40 deliveries are edited on both sides) and new orders.
    const customer = (await h.pool.query('SELECT id FROM customers ORDER BY id LIMIT 1')).rows[0].id;
    let newOrders = 0;
    const until = Date.now() + EDIT_MS;
    while (Date.now() < until) {
      await h.pool.query(`UPDATE orders SET notes = '新系統改的', amount = amount + 2, updated_at = now() WHERE legacy_id = $1`, [1 + Math.floor(Math.random() * 40)]);
      await h.pool.query(`UPDATE orders SET qty_4kg = qty_4kg + 1, updated_at = now() WHERE legacy_id = $1`, [1 + Math.floor(Math.random() * DELIVERIES)]);
      await h.pool.query(`INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes, updated_at) VALUES ($1, '2026-11-26', 1, 'pending', 900, '新系統建立', now())`, [customer]);
      newOrders++;
      await new Promise((r) => setTimeout(r, 300));
    }
    await legacyEditsDone;
    const made = JSON.parse(edits) as { edits: number; inserts: number };
    expect(made.edits).toBeGreaterThan(100);

    // Let the schedule catch up: wait until both directions of deliveries completed a run that
    // started after the last edit (a direction with nothing to do is recorded as soon as its
    // cycle is planned, so one direction alone says nothing about the other).
    const editsDone = Date.now();
    for (;;) {
      const done = await h.pool.query(
        `SELECT count(DISTINCT direction)::int AS n FROM sync_runs WHERE kind = 'table' AND table_name = 'deliveries'
           AND status = 'completed' AND started_at > $1`,
        [new Date(editsDone + 1000)],
      );
      if (done.rows[0].n === 2) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await h.client.schedule.getHandle(scheduleId).pause('test done');
    expect(await contractDifferences(h.legacyPath, h.pool)).toEqual([]);
    // Every order has its legacy row, once: nothing was written twice.
    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE legacy_id IS NULL')).toBe(0);
    const legacyInserts = made.inserts;
    expect(legacyDeliveries(h.legacyPath)).toBe(legacyBefore + newOrders + legacyInserts);
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(legacyBefore + newOrders + legacyInserts);
    // Conflicts happened (the first deliveries were edited on both sides), each with its outcome.
    const conflicts = await h.pool.query(`SELECT outcome, count(*)::int AS n FROM sync_conflicts GROUP BY 1`);
    expect(conflicts.rows.length).toBeGreaterThan(0);
    for (const c of conflicts.rows) expect(['legacy', 'new', 'merged']).toContain(c.outcome);
  }, 600_000);
});
