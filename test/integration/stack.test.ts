import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import Redis from 'ioredis';
import { Connection } from '@temporalio/client';
import { stackStatus, stackUp } from '../../src/stack/stack';
import { testStackSettings } from '../support/testStack';

const ROOT = path.resolve(__dirname, '../..');

describe('the local stack', () => {
  it('runs all three services, and a second `up` changes nothing', async () => {
    const settings = testStackSettings();
    const first = stackStatus(settings);
    expect(first.services).toEqual({ temporal: 'running', postgres: 'running', redis: 'running' });
    const again = await stackUp(settings);
    expect(again.DATABASE_URL).toBe(process.env.TEST_DATABASE_URL);
  });

  it('has the contract tables and the sync tables, migrated by Prisma', async () => {
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
      );
      const tables = rows.map((r) => r.table_name);
      for (const t of ['customers', 'drivers', 'orders', 'sync_state', 'sync_runs', 'sync_journal', 'sync_conflicts', 'sync_held_back']) {
        expect(tables).toContain(t);
      }
      const migrations = await client.query(`SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL`);
      expect(migrations.rows[0].n).toBeGreaterThan(0);
      const cols = await client.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'drivers' ORDER BY ordinal_position`,
      );
      expect(cols.rows.find((c) => c.column_name === 'familiar_areas')?.data_type).toBe('ARRAY');
    } finally {
      await client.end();
    }
  });

  it('answers on Redis and Temporal, with the search attributes registered', async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL!);
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
    const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
    try {
      const res = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(res.customAttributes ?? {})).toEqual(expect.arrayContaining(['SyncTable', 'SyncDirection', 'SyncRows', 'SyncOutcome']));
    } finally {
      await connection.close();
    }
  });

  it('reports its status through the CLI as JSON', () => {
    const settings = testStackSettings();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/luckygas-sync.js'), 'stack', 'status', '--json'], {
      env: { ...process.env, LUCKYGAS_DATA_DIR: settings.dataDir, LUCKYGAS_PG_PORT: String(settings.pgPort), LUCKYGAS_REDIS_PORT: String(settings.redisPort), LUCKYGAS_TEMPORAL_PORT: String(settings.temporalPort) },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).services.postgres).toBe('running');
  });

  it('fails with a clear error and exit code 3 when a service cannot be had', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/luckygas-sync.js'), 'stack', 'up'], {
      env: { ...process.env, LUCKYGAS_DATA_DIR: '/tmp/luckygas-missing-stack', PG_BIN_DIR: '/nonexistent/bin', REDIS_URL: 'redis://127.0.0.1:1', TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: '' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/PostgreSQL server binaries not found in \/nonexistent\/bin/);
  });
});
