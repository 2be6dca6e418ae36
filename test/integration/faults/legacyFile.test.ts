import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { generateLegacyDb } from '../../../src/fixtures/legacyFixture';
import { installTriggers } from '../../../src/capture/legacyTriggers';
import { createOrUpdateSchedule } from '../../../src/temporal/schedule';
import { targetOf } from '../../../src/temporal/target';
import { checkAfterFault } from '../../support/faultCheck';
import { configWith, count, startHarness, type SyncHarness } from '../../support/syncHarness';
import { BackfillWorkflow } from '../../../workflows';

/**
 * The legacy application keeps using its file: another process writes to it throughout
 * (bursts of inserts, updates and deletes, some rows with broken CP950 bytes), or holds it
 * locked in a long transaction, while the sync runs.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The legacy application: a burst in one transaction every 200 ms, stamped with Taipei time. */
const WRITER = `
const D = require('better-sqlite3');
const iconv = require('iconv-lite');
const [file, duration, maxId] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const db = new D(file, { timeout: 10000 });
const now = () => new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');
const status = iconv.encode('已派車', 'cp950');
const notes = iconv.encode('併行改的備註', 'cp950');
const truncated = Buffer.from([0x41, 0xa4]); // a CP950 lead byte with no trail byte
const update = db.prepare('UPDATE deliveries SET amount = amount + 1, notes = CAST(? AS TEXT), status = CAST(? AS TEXT), updated_at = ? WHERE id = ?');
const insert = db.prepare("INSERT INTO deliveries (client_id, delivery_date, cylinder_20kg, status, amount, notes, created_at, updated_at) VALUES (?, '2026-11-25', 1, CAST(? AS TEXT), 900, CAST(? AS TEXT), ?, ?)");
const del = db.prepare('DELETE FROM deliveries WHERE id = ?');
const made = { bursts: 0, updates: 0, inserts: 0, deletes: 0, bad: 0 };
const pick = () => 1 + Math.floor(Math.random() * maxId);
const end = Date.now() + duration;
const tick = () => {
  if (Date.now() > end) { process.stdout.write(JSON.stringify(made)); db.close(); return; }
  db.transaction(() => {
    for (let i = 0; i < 8; i++) made.updates += update.run(notes, status, now(), pick()).changes;
    for (let i = 0; i < 2; i++) { insert.run(1 + Math.floor(Math.random() * 50), status, notes, now(), now()); made.inserts++; }
    made.deletes += del.run(pick()).changes;
    if (made.bursts % 10 === 0) { insert.run(1, status, truncated, now(), now()); made.bad++; }
  })();
  made.bursts++;
  setTimeout(tick, 200);
};
tick();
`;

describe('another process writing to the legacy file throughout (trigger mode)', () => {
  let h: SyncHarness;
  const scheduleId = `faults-writer-${Date.now()}`;
  const DELIVERIES = 5000;
  beforeAll(async () => {
    h = await startHarness({ config: configWith((t) => t.forEach((x) => (x.changeDetection = 'trigger'))) });
    generateLegacyDb({ path: h.legacyPath, seed: 41, clients: 50, drivers: 5, deliveries: DELIVERIES });
    const db = new Database(h.legacyPath);
    installTriggers(db, ['clients', 'drivers', 'deliveries']);
    db.close();
    for (const table of ['clients', 'drivers', 'deliveries']) {
      await h.client.workflow.execute(BackfillWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `backfill/${table}/${h.env.TEMPORAL_TASK_QUEUE}`, args: [{ table }] });
    }
  });
  afterAll(async () => {
    await h.client.schedule.getHandle(scheduleId).delete().catch(() => {});
    await h?.close();
  });

  it('syncs every insert, update and delete; broken rows are held back with their reason', async () => {
    const started = Date.now();
    await createOrUpdateSchedule(h.client, h.env, targetOf(h.env, 'all'), { intervalSeconds: 2, scheduleId });
    const writer = spawn(process.execPath, ['-e', WRITER, h.legacyPath, '15000', String(DELIVERIES)], { cwd: process.cwd() });
    let out = '';
    writer.stdout.on('data', (d) => (out += d));
    await new Promise((r) => writer.once('exit', r));
    const made = JSON.parse(out) as { bursts: number; updates: number; inserts: number; deletes: number; bad: number };
    expect(made.bursts).toBeGreaterThan(30);
    expect(made.deletes).toBeGreaterThan(10);

    // Wait for a deliveries run that started after the last write, then stop the schedule.
    const writesDone = new Date();
    for (let i = 0; i < 120; i++) {
      const done = await count(
        h.pool,
        `SELECT count(*) FROM sync_runs WHERE kind = 'table' AND table_name = 'deliveries' AND direction = 'legacy-to-new'
           AND status = 'completed' AND started_at > $1`,
        [writesDone],
      );
      if (done > 0) break;
      await sleep(500);
    }
    await h.client.schedule.getHandle(scheduleId).pause('writer done');

    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE deleted_at IS NOT NULL')).toBe(made.deletes);
    const held = await h.pool.query(`SELECT reason FROM sync_held_back WHERE resolved_at IS NULL`);
    expect(held.rows).toHaveLength(made.bad);
    for (const r of held.rows) expect(r.reason).toMatch(/notes: truncated CP950 sequence 0xA4 at offset 1/);
    const outcome = await checkAfterFault(h, 'legacy writer throughout (trigger mode: inserts, updates, deletes, broken bytes)', started, { heldBack: made.bad });
    expect(outcome).toMatchObject({ rowsChecked: 55 + DELIVERIES + made.inserts + made.bad - made.deletes, lost: 0, duplicated: 0, differences: 0, result: 'pass' });
  }, 240_000);
});

describe('the legacy file locked by a long transaction of another process', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 42, clients: 50, drivers: 5, deliveries: 3000 });
    await h.runCycle();
  });
  afterAll(async () => h?.close());

  it('waits for the lock, then reads what the transaction committed', async () => {
    const started = Date.now();
    // The other process changes 100 rows inside an exclusive transaction held for 8 s.
    const locker = spawn(process.execPath, [
      '-e',
      `const D=require('better-sqlite3');const d=new D(process.argv[1]);d.exec('BEGIN EXCLUSIVE');
       d.prepare("UPDATE deliveries SET amount = 4242, updated_at = datetime('now', '+8 hours') WHERE id <= 100").run();
       process.stdout.write('locked\\n');setTimeout(()=>{d.exec('COMMIT');d.close();},8000);`,
      h.legacyPath,
    ], { cwd: process.cwd() });
    const released = new Promise((r) => locker.once('exit', r));
    await new Promise<void>((resolve) => locker.stdout.once('data', () => resolve()));
    await h.runCycle();
    await released;
    expect(Date.now() - started).toBeGreaterThan(7000);
    // Either the cycle read after the commit, or the next one does (lookback): nothing is skipped.
    await h.runCycle();
    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE amount = 4242 AND legacy_id <= 100')).toBe(100);
    expect(await checkAfterFault(h, 'legacy file locked 8 s by another process', started)).toMatchObject({
      rowsChecked: 3055,
      lost: 0,
      duplicated: 0,
      differences: 0,
      heldBack: 0,
      result: 'pass',
    });
  }, 180_000);
});
