import { spawn } from 'node:child_process';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { createOrUpdateSchedule } from '../../src/temporal/schedule';
import { contractDifferences } from '../support/contractCheck';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * The "done when": a 100,000-delivery legacy file syncs completely; then the legacy
 * application keeps editing while the schedule runs, and in the end every PostgreSQL row is
 * what the contract's rules make of its legacy row.
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
const end = Date.now() + Number(process.argv[2]);
const tick = () => {
  if (Date.now() > end) { process.stdout.write(String(n)); db.close(); return; }
  // A burst: several rows in one second, as the legacy application writes them.
  db.transaction(() => {
    for (let i = 0; i < 20; i++) { update.run(notes, status, now(), 1 + Math.floor(Math.random() * 100000)); n++; }
    insert.run(1 + Math.floor(Math.random() * 2000), status, now(), now()); n++;
  })();
  setTimeout(tick, 200);
};
tick();
`;

describe('a large legacy file, then a stream of edits while the schedule runs', () => {
  let h: SyncHarness;
  const scheduleId = `e2e-${Date.now()}`;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 42, clients: 2000, drivers: 60, deliveries: 100_000 });
  });
  afterAll(async () => {
    await h.client.schedule.getHandle(scheduleId).delete().catch(() => {});
    await h?.close();
  });

  it('syncs completely, and every row equals its legacy row by the contract', async () => {
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(100_000);

    await createOrUpdateSchedule(h.client, h.env, { intervalSeconds: 3, scheduleId });
    const editor = spawn(process.execPath, ['-e', EDITOR, h.legacyPath, '15000'], { cwd: process.cwd() });
    let edits = '';
    editor.stdout.on('data', (d) => (edits += d));
    await new Promise((r) => editor.once('exit', r));
    expect(Number(edits)).toBeGreaterThan(100);

    // Let the schedule catch up: wait for a cycle that started after the last edit to finish.
    const editsDone = Date.now();
    for (;;) {
      const done = await h.pool.query(
        `SELECT count(*)::int AS n FROM sync_runs WHERE kind = 'table' AND table_name = 'deliveries' AND direction = 'legacy-to-new'
           AND status = 'completed' AND started_at > $1`,
        [new Date(editsDone + 1000)],
      );
      if (done.rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await h.client.schedule.getHandle(scheduleId).pause('test done');
    expect(await contractDifferences(h.legacyPath, h.pool)).toEqual([]);
  }, 600_000);
});
