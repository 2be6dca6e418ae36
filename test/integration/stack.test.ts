import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import Redis from 'ioredis';
import { Connection } from '@temporalio/client';
import { postgresClusterDir, postgresRunning, relocatedClusterDir, startPostgres, stopPostgres } from '../../src/stack/postgres';
import { stackSettingsFromEnv } from '../../src/stack/settings';
import { stackStatus, stackUp } from '../../src/stack/stack';
import { testStackSettings } from '../support/testStack';

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

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

  // As root the server runs as the postgres user, who cannot enter a checkout under /root or
  // in a folder only root may enter (what `mktemp -d` makes).
  const asRoot = process.getuid?.() === 0 ? it : it.skip;

  asRoot('runs PostgreSQL for a checkout in a folder only root may enter, and finds it again', async () => {
    const clone = mkdtempSync(path.join(os.tmpdir(), 'luckygas-clone-'));
    expect(statSync(clone).mode & 0o777).toBe(0o700);
    expect(statSync(clone).uid).toBe(0);
    const dataDir = path.join(clone, '.data');
    const settings = stackSettingsFromEnv({ LUCKYGAS_DATA_DIR: dataDir, LUCKYGAS_PG_PORT: String(await freePort()), PG_BIN_DIR: process.env.PG_BIN_DIR ?? '' });
    const cluster = relocatedClusterDir(settings);
    try {
      startPostgres(settings);
      // Outside the clone, one folder per data folder, owned by postgres, saying whose it is.
      expect(postgresClusterDir(settings)).toBe(cluster);
      expect(cluster.startsWith(clone)).toBe(false);
      expect(readFileSync(path.join(cluster, 'DATA_FOLDER'), 'utf8')).toBe(`${dataDir}\n`);
      mkdirSync(path.join(clone, 'other'));
      expect(relocatedClusterDir({ ...settings, dataDir: path.join(clone, 'other') })).not.toBe(cluster);

      const client = new pg.Client({ host: '127.0.0.1', port: settings.pgPort, user: 'luckygas', database: 'luckygas' });
      await client.connect();
      try {
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      } finally {
        await client.end();
      }

      // `stack status` (another process) finds the running cluster again.
      const status = spawnSync(process.execPath, [path.join(ROOT, 'bin/luckygas-sync.js'), 'stack', 'status', '--json'], {
        env: { ...process.env, LUCKYGAS_DATA_DIR: dataDir, LUCKYGAS_PG_PORT: String(settings.pgPort), DATABASE_URL: '' },
        encoding: 'utf8',
      });
      expect(status.status).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ postgresCluster: cluster, services: { postgres: 'running' } });

      stopPostgres(settings);
      expect(postgresRunning(settings)).toBe(false);
    } finally {
      if (postgresRunning(settings)) stopPostgres(settings);
      rmSync(cluster, { recursive: true, force: true });
      try {
        rmdirSync(path.dirname(cluster)); // only when no other cluster is there
      } catch {
        /* not empty */
      }
      rmSync(clone, { recursive: true, force: true });
    }
    expect(existsSync(cluster)).toBe(false);
  });
});
