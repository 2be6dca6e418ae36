import Redis from 'ioredis';
import { ClaimStore } from '../../src/claims';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { startPostgres, stopPostgres } from '../../src/stack/postgres';
import { startRedis, stopRedis } from '../../src/stack/redis';
import { startTemporal, stopTemporal } from '../../src/stack/temporal';
import { count, startHarness, type SyncHarness } from '../support/syncHarness';
import { testStackSettings } from '../support/testStack';

/**
 * Things break for real here: Redis loses its data or goes away, PostgreSQL and the Temporal
 * server restart, while a cycle runs. Each ends with every legacy row in PostgreSQL exactly once.
 */

/** Real Redis, flushed right after the first batch's rows were parked in it. */
class FlushingClaims extends ClaimStore {
  flushes = 0;
  constructor(private readonly client: Redis, ttl: number) {
    super(client, ttl);
  }
  async put(key: string, value: unknown): Promise<void> {
    await super.put(key, value);
    if (this.flushes === 0 && key.endsWith('#0:raw')) {
      this.flushes++;
      await this.client.flushdb();
    }
  }
}

async function expectComplete(h: SyncHarness, deliveries: number) {
  expect(await count(h.pool, 'SELECT count(*) FROM orders')).toBe(deliveries);
  expect(await count(h.pool, 'SELECT count(DISTINCT legacy_id) FROM orders')).toBe(deliveries);
  expect(await count(h.pool, `SELECT count(*) FROM (SELECT legacy_id FROM sync_journal WHERE table_name = 'orders' AND operation = 'insert' GROUP BY 1 HAVING count(*) > 1) d`)).toBe(0);
  expect(await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE resolved_at IS NULL`)).toBe(0);
}

describe('Redis flushed between the steps of a batch', () => {
  let h: SyncHarness;
  let redis: Redis;
  let claims: FlushingClaims;
  beforeAll(async () => {
    redis = new Redis(process.env.TEST_REDIS_URL!);
    claims = new FlushingClaims(redis, 600);
    h = await startHarness({ overrides: { claims } });
    generateLegacyDb({ path: h.legacyPath, seed: 31, clients: 60, drivers: 6, deliveries: 2500 });
  });
  afterAll(async () => {
    await h?.close();
    redis.disconnect();
  });

  it('fetches the batch again and loses nothing', async () => {
    await h.runCycle();
    expect(claims.flushes).toBe(1);
    await expectComplete(h, 2500);
  });
});

describe('Redis, PostgreSQL and Temporal going away during a cycle', () => {
  let h: SyncHarness;
  const stack = testStackSettings();
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 32, clients: 60, drivers: 6, deliveries: 6000 });
  });
  afterAll(async () => {
    await startRedis(stack);
    startPostgres(stack);
    await startTemporal(stack);
    await h?.close();
  });

  it('retries until Redis is back', async () => {
    const cycle = h.runCycle();
    await new Promise((r) => setTimeout(r, 1500));
    await stopRedis(stack);
    await new Promise((r) => setTimeout(r, 4000));
    await startRedis(stack);
    await cycle;
    await expectComplete(h, 6000);
  });

  it('finishes the cycle after the Temporal server restarts mid-cycle (its SQLite persistence kept)', async () => {
    await h.pool.query('TRUNCATE orders, sync_row_state, sync_state, sync_batches, sync_journal');
    const workflowId = `sync-cycle/test/temporal-restart-${Date.now()}`;
    await h.client.workflow.start('SyncCycleWorkflow', { taskQueue: h.env.TEMPORAL_TASK_QUEUE, workflowId, args: [{ tables: ['deliveries'] }] });
    await new Promise((r) => setTimeout(r, 1500));
    await stopTemporal(stack);
    await new Promise((r) => setTimeout(r, 2000));
    await startTemporal(stack);
    // The client reconnects; the workflow went on from its persisted history.
    let result;
    for (let i = 0; i < 30 && !result; i++) {
      result = await h.client.workflow.getHandle(workflowId).result().catch(async () => {
        await new Promise((r) => setTimeout(r, 1000));
        return undefined;
      });
    }
    expect(result).toBeDefined();
    await expectComplete(h, 6000);
  });

  it('retries until PostgreSQL is back', async () => {
    await h.pool.query('TRUNCATE orders, sync_row_state, sync_state, sync_batches, sync_journal');
    const cycle = h.runCycle(['deliveries']);
    await new Promise((r) => setTimeout(r, 1500));
    stopPostgres(stack);
    await new Promise((r) => setTimeout(r, 4000));
    startPostgres(stack);
    await cycle;
    await expectComplete(h, 6000);
  });
});
