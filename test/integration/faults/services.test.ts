import Database from 'better-sqlite3';
import Redis from 'ioredis';
import { ClaimStore } from '../../../src/claims';
import { generateLegacyDb } from '../../../src/fixtures/legacyFixture';
import { startPostgres, stopPostgres } from '../../../src/stack/postgres';
import { startRedis, stopRedis } from '../../../src/stack/redis';
import { startTemporal, stopTemporal } from '../../../src/stack/temporal';
import { checkAfterFault } from '../../support/faultCheck';
import { configWith, count, startHarness, type SyncHarness } from '../../support/syncHarness';
import { testStackSettings } from '../../support/testStack';
import { SyncCycleWorkflow } from '../../../workflows';

/**
 * The services break for real while a cycle runs: Redis loses its data or goes away,
 * PostgreSQL and the Temporal server restart. Each ends with the consistency check clean.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLEAN = { lost: 0, duplicated: 0, differences: 0, heldBack: 0, result: 'pass' };

/** Real Redis, flushed right after the first batch's rows were parked in it, once armed. */
class FlushingClaims extends ClaimStore {
  flushes = 0;
  armed = false;
  constructor(private readonly client: Redis, ttl: number) {
    super(client, ttl);
  }
  async put(key: string, value: unknown): Promise<void> {
    await super.put(key, value);
    if (this.armed && this.flushes === 0 && key.endsWith('#0:raw')) {
      this.flushes++;
      await this.client.flushdb();
    }
  }
}

describe('Redis flushed between the steps of a batch', () => {
  let h: SyncHarness;
  let redis: Redis;
  let claims: FlushingClaims;
  beforeAll(async () => {
    redis = new Redis(process.env.TEST_REDIS_URL!);
    claims = new FlushingClaims(redis, 600);
    h = await startHarness({ claims });
    generateLegacyDb({ path: h.legacyPath, seed: 31, clients: 60, drivers: 6, deliveries: 2500 });
  });
  afterAll(async () => {
    await h?.close();
    redis.disconnect();
  });

  it('fetches the batch again and loses nothing', async () => {
    const started = Date.now();
    // The first cycle loads each empty table in one transaction, without batches; the next one reads the changed deliveries in batches.
    await h.runCycle();
    const db = new Database(h.legacyPath);
    db.prepare(`UPDATE deliveries SET amount = amount + 1, updated_at = '2031-01-01 00:00:00'`).run();
    db.close();
    claims.armed = true;
    await h.runCycle();
    expect(claims.flushes).toBe(1);
    expect(await checkAfterFault(h, 'Redis flushed mid-batch', started)).toMatchObject({ rowsChecked: 2566, ...CLEAN });
  });
});

describe('Redis, PostgreSQL and Temporal going away during a cycle', () => {
  let h: SyncHarness;
  const stack = testStackSettings();
  const DELIVERIES = 10_000;
  const ROWS = 60 + 6 + DELIVERIES;
  const startOver = () => h.pool.query('TRUNCATE customers, drivers, orders, sync_row_state, sync_state, sync_batches, sync_journal CASCADE');
  /**
   * Waits until the cycle is loading orders (in one transaction, src/apply/bulkLoad.ts: while it
   * holds the table's lock), and checks it had not finished: the fault lands mid-cycle.
   */
  const midCycle = async () => {
    const loading = `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'orders' AND l.mode = 'AccessExclusiveLock' AND l.granted`;
    for (let i = 0; i < 600 && (await count(h.pool, loading)) === 0; i++) await sleep(50);
    // Not committed (the load's journal entry is its last write; the table itself waits for the lock).
    expect(await count(h.pool, `SELECT count(*) FROM sync_journal WHERE table_name = 'orders'`)).toBe(0);
  };
  beforeAll(async () => {
    // Pages of 500: the cycle is many pages long, and a fault lands in the middle of it.
    h = await startHarness({ config: configWith((tables) => tables.forEach((t) => (t.backfillBatchSize = t.batchSize = 500))) });
    generateLegacyDb({ path: h.legacyPath, seed: 32, clients: 60, drivers: 6, deliveries: DELIVERIES });
  });
  afterAll(async () => {
    await startRedis(stack);
    startPostgres(stack);
    await startTemporal(stack);
    await h?.close();
  });

  it('retries until Redis is back', async () => {
    const started = Date.now();
    const cycle = h.runCycle();
    await midCycle();
    await stopRedis(stack);
    await sleep(4000);
    await startRedis(stack);
    await cycle;
    expect(await checkAfterFault(h, 'Redis down for 4 s mid-cycle', started)).toMatchObject({ rowsChecked: ROWS, ...CLEAN });
  });

  it('finishes the cycle after the Temporal server restarts mid-cycle (its SQLite persistence kept)', async () => {
    await startOver();
    const started = Date.now();
    const workflowId = `sync-cycle/test/temporal-restart-${Date.now()}`;
    await h.client.workflow.start(SyncCycleWorkflow, { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId, args: [{}] });
    await midCycle();
    await stopTemporal(stack);
    await sleep(2000);
    await startTemporal(stack);
    // The client reconnects; the workflow went on from its persisted history.
    let result;
    for (let i = 0; i < 30 && !result; i++) {
      result = await h.client.workflow.getHandle(workflowId).result().catch(async () => {
        await sleep(1000);
        return undefined;
      });
    }
    expect(result).toBeDefined();
    expect(await checkAfterFault(h, 'Temporal server restarted mid-cycle', started)).toMatchObject({ rowsChecked: ROWS, ...CLEAN });
  });

  it('retries until PostgreSQL is back', async () => {
    await startOver();
    const started = Date.now();
    const cycle = h.runCycle();
    await midCycle();
    stopPostgres(stack);
    await sleep(4000);
    startPostgres(stack);
    await cycle;
    expect(await checkAfterFault(h, 'PostgreSQL stopped 4 s during upserts', started)).toMatchObject({ rowsChecked: ROWS, ...CLEAN });
  });
});
