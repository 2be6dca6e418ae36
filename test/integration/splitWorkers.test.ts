import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { WorkflowStartOptions } from '@temporalio/client';
import type { Workflow, WorkflowResultType } from '@temporalio/common';
import { decodeCp950 } from '../../src/encoding/cp950';
import { loadEudcMap } from '../../src/encoding/eudc';
import { generateLegacyDb, legacyText } from '../../src/fixtures/legacyFixture';
import { livePollers } from '../../src/temporal/inProcessWorker';
import { BackfillWorkflow, ConsistencyCheckWorkflow, RollbackWorkflow, SyncCycleWorkflow } from '../../workflows';
import { contractDifferences } from '../support/contractCheck';
import { checkAfterFault } from '../support/faultCheck';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';
import { stopWorker } from '../support/workerProcess';

/**
 * Split workers, for real: a core worker and a legacy agent in two processes. The core worker
 * has no LEGACY_DB_PATH and, as another account, could not read the legacy file if it tried;
 * the legacy agent has no DATABASE_URL. Every command's work goes through both.
 */

const ROOT = path.resolve(__dirname, '../..');
const asRoot = process.getuid?.() === 0;

function spawnRole(h: SyncHarness, role: 'core' | 'legacy'): ChildProcess {
  const common = {
    PATH: process.env.PATH,
    REDIS_URL: h.env.REDIS_URL,
    TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: h.env.TEMPORAL_TASK_QUEUE,
    TEMPORAL_LEGACY_TASK_QUEUE: h.env.TEMPORAL_LEGACY_TASK_QUEUE,
    LUCKYGAS_DATA_DIR: h.dir,
    LOG_LEVEL: 'warn',
  };
  const env = role === 'core' ? { ...common, DATABASE_URL: h.env.DATABASE_URL } : { ...common, LEGACY_DB_PATH: h.legacyPath };
  return spawn(process.execPath, [path.join(ROOT, 'bin/luckygas-sync.js'), 'worker', '--role', role], {
    cwd: ROOT,
    env,
    stdio: 'ignore',
    // The core worker as an account that may not enter the legacy file's folder.
    ...(role === 'core' && asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
}

async function waitForPollers(h: SyncHarness): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const core = await livePollers(h.client, h.env.TEMPORAL_NAMESPACE, h.env.TEMPORAL_TASK_QUEUE, 'workflow');
    const legacy = await livePollers(h.client, h.env.TEMPORAL_NAMESPACE, h.env.TEMPORAL_LEGACY_TASK_QUEUE);
    if (core.some((p) => p.identity.includes(' core')) && legacy.some((p) => p.identity.includes(' legacy'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the core worker and the legacy agent did not both poll within 60 s');
}

describe('split workers: a core worker and a legacy agent', () => {
  let h: SyncHarness;
  let core: ChildProcess;
  let agent: ChildProcess;
  beforeAll(async () => {
    h = await startHarness({ role: 'none' });
    generateLegacyDb({ path: h.legacyPath, seed: 43, clients: 80, drivers: 6, deliveries: 1500 });
    core = spawnRole(h, 'core');
    agent = spawnRole(h, 'legacy');
    await waitForPollers(h);
  });
  afterAll(async () => {
    await Promise.all([core, agent].filter(Boolean).map((w) => stopWorker(w)));
    await h?.close();
  });

  const run = <W extends Workflow>(workflow: W, id: string, args: Parameters<W>): Promise<WorkflowResultType<W>> =>
    h.client.workflow.execute(workflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `${id}/${h.env.TEMPORAL_TASK_QUEUE}`, args } as unknown as WorkflowStartOptions<W>);

  it('runs a cycle in both directions, a backfill, a check with repair and a rollback, as one worker would', async () => {
    await run(SyncCycleWorkflow, 'sync-cycle/split-1', [{ tables: ['clients'] }]);
    const customer = (await h.pool.query(`SELECT id FROM customers ORDER BY id LIMIT 1`)).rows[0].id;
    await h.pool.query(`INSERT INTO orders (customer_id, delivery_date, qty_20kg, status, amount, notes) VALUES ($1, '2032-02-02', 2, 'pending', 1800, '分開的工作者')`, [customer]);
    const cycle = await run(SyncCycleWorkflow, 'sync-cycle/split-2', [{}]);
    expect(cycle.tables.every((t) => t.status === 'completed')).toBe(true);
    expect(await count(h.pool, 'SELECT count(*) FROM orders WHERE legacy_id IS NULL')).toBe(0);
    // Every row as the contract maps it, the written-back order included (the same result as one worker's).
    expect(await contractDifferences(h.legacyPath, h.pool)).toEqual([]);

    const backfill = await run(BackfillWorkflow, 'backfill/deliveries/split', [{ table: 'deliveries' }]);
    expect(backfill).toMatchObject({ status: 'completed', read: 1501, written: 0, unchanged: 1501 });

    // Differences made behind the sync's back, found and repaired through both roles.
    await h.pool.query(`BEGIN; SELECT set_config('luckygas.origin', 'sync', true); UPDATE orders SET amount = amount + 1 WHERE legacy_id IN (5, 6, 7); COMMIT;`);
    const check = await run(ConsistencyCheckWorkflow, 'consistency-check/split', [{ repair: true }]);
    expect(check.beforeRepair?.differences).toBe(3);
    expect(check.differences).toBe(0);

    // A second cycle with edits on both sides, rolled back.
    const db = new Database(h.legacyPath);
    db.prepare(`UPDATE deliveries SET amount = 4242, updated_at = '2033-04-04 04:04:04' WHERE id = 20`).run();
    db.prepare(`UPDATE clients SET short_name = CAST(? AS TEXT), updated_at = '2033-04-04 04:04:05' WHERE id = 3`).run(legacyText('分工', 'cp950'));
    db.close();
    await h.pool.query(`UPDATE orders SET notes = '回寫', updated_at = now() WHERE legacy_id = 30`);
    const before = { orders: (await h.pool.query(`SELECT amount, notes FROM orders WHERE legacy_id IN (20, 30) ORDER BY legacy_id`)).rows, legacy30: legacyNotes(h, 30) };
    const edited = await run(SyncCycleWorkflow, 'sync-cycle/split-3', [{}]);
    expect(legacyNotes(h, 30)).toBe('回寫');
    const rollback = await run(RollbackWorkflow, 'rollback/split', [{ runId: edited.cycleId }]);
    expect(rollback).toMatchObject({ conflictCount: 0, restoredBySide: { new: 2, legacy: 1 } });
    expect((await h.pool.query(`SELECT amount, notes FROM orders WHERE legacy_id IN (20, 30) ORDER BY legacy_id`)).rows).toEqual(before.orders);
    expect(legacyNotes(h, 30)).toBe(before.legacy30);
  });
});

describe('the legacy agent killed mid-cycle', () => {
  let h: SyncHarness;
  let core: ChildProcess;
  let agent: ChildProcess;
  beforeAll(async () => {
    h = await startHarness({ role: 'none' });
    generateLegacyDb({ path: h.legacyPath, seed: 47, clients: 200, drivers: 10, deliveries: 30_000 });
    core = spawnRole(h, 'core');
    agent = spawnRole(h, 'legacy');
    await waitForPollers(h);
  });
  afterAll(async () => {
    await Promise.all([core, agent].filter(Boolean).map((w) => stopWorker(w)));
    await h?.close();
  });

  it('loses nothing and duplicates nothing after SIGKILL and a restart', async () => {
    const started = Date.now();
    const handle = await h.client.workflow.start(SyncCycleWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId: `sync-cycle/agent-kill/${h.env.TEMPORAL_TASK_QUEUE}`, args: [{}] });
    // The first sync loads orders in one transaction (src/apply/bulkLoad.ts): mid-load is while it holds the table's lock, nothing committed yet.
    const loading = `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'orders' AND l.mode = 'AccessExclusiveLock' AND l.granted`;
    for (let i = 0; i < 1200 && (await count(h.pool, loading)) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await stopWorker(agent, 'SIGKILL');
    // Not committed (the load's journal entry is its last write; the table itself waits for the lock).
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal WHERE table_name = 'orders'`)).toBe(0);
    agent = spawnRole(h, 'legacy');
    await handle.result();
    const outcome = await checkAfterFault(h, 'legacy agent SIGKILL mid-cycle, restarted', started);
    expect(outcome).toMatchObject({ rowsChecked: 30_210, lost: 0, duplicated: 0, differences: 0, heldBack: 0, result: 'pass' });
  }, 300_000);
});

/** A delivery's notes as the legacy application reads them (CP950). */
function legacyNotes(h: SyncHarness, id: number): string | null {
  const db = new Database(h.legacyPath, { readonly: true });
  try {
    const row = db.prepare(`SELECT CAST(notes AS BLOB) AS notes FROM deliveries WHERE id = ?`).get(id) as { notes: Buffer | null };
    if (row.notes === null) return null;
    const text = decodeCp950(row.notes, loadEudcMap());
    return text.ok ? text.value : `(undecodable: ${text.reason})`;
  } finally {
    db.close();
  }
}
