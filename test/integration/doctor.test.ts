import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { SCHEDULE_ID } from '../../src/shared';
import { createOrUpdateSchedule } from '../../src/temporal/schedule';
import { targetOf } from '../../src/temporal/target';
import { expectExit, json, runCli } from '../support/cli';
import { startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * `doctor` on a working install says so; on a deliberately broken one it names each broken
 * piece, with what to do (Redis stopped, a migration missing, no worker, the wrong file).
 */

interface Report {
  ok: boolean;
  findings: { check: string; ok: boolean; detail: string; fix?: string }[];
}

describe('luckygas-sync doctor', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 81, clients: 20, drivers: 2, deliveries: 50 });
    await h.runCycle();
    await createOrUpdateSchedule(h.client, h.env, targetOf(h.env, 'all'));
  });
  afterAll(async () => {
    await h?.client.schedule.getHandle(SCHEDULE_ID).delete().catch(() => {});
    await h?.close();
  });

  const doctor = (over: Record<string, string> = {}, args = ['--json']) =>
    runCli(['doctor', ...args], {
      env: {
        LEGACY_DB_PATH: h.legacyPath,
        DATABASE_URL: h.env.DATABASE_URL,
        REDIS_URL: h.env.REDIS_URL,
        TEMPORAL_ADDRESS: h.env.TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: h.env.TEMPORAL_TASK_QUEUE,
        TEMPORAL_LEGACY_TASK_QUEUE: h.env.TEMPORAL_LEGACY_TASK_QUEUE,
        LOG_LEVEL: 'error',
        ...over,
      },
      timeoutMs: 120_000,
    });
  const failed = (r: Report) => Object.fromEntries(r.findings.filter((f) => !f.ok).map((f) => [f.check, `${f.detail} → ${f.fix}`]));

  it('finds nothing wrong with a working install, and says what it checked', async () => {
    const r = await doctor();
    expectExit(r, 0);
    const report = json<Report>(r);
    expect(report.ok).toBe(true);
    expect(report.findings.map((f) => f.check)).toEqual([
      'configuration',
      'postgresql',
      'migrations',
      'redis',
      'namespace',
      'search attributes',
      'core workers',
      'legacy workers',
      'schedule',
      'legacy file',
      'clocks',
    ]);
    expect(report.findings.find((f) => f.check === 'legacy file')?.detail).toMatch(/readable, the contract's tables, journal mode (delete|wal)/);
    const text = await doctor({}, []);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^ok +redis: Redis answers at redis:\/\/127\.0\.0\.1:\d+/m);
    expect(text.stdout).toMatch(/no problem found\n$/);
  });

  it('names Redis stopped', async () => {
    const r = await doctor({ REDIS_URL: 'redis://127.0.0.1:1' });
    expectExit(r, 1);
    expect(failed(json<Report>(r))).toEqual({ redis: expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:1.*ECONNREFUSED.* → start Redis, or correct REDIS_URL$/) });
  });

  it('names a migration not applied', async () => {
    const last = (await h.pool.query(`SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1`)).rows[0].migration_name as string;
    await h.pool.query(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1`, [last]);
    try {
      const r = await doctor();
      expectExit(r, 1);
      expect(failed(json<Report>(r))).toEqual({ migrations: `not applied: ${last} → apply them: npx prisma migrate deploy (or luckygas-sync stack up on the local stack)` });
    } finally {
      await h.pool.query(`UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE migration_name = $1`, [last]);
    }
  });

  it('names task queues no worker polls, and a file that is not the legacy database', async () => {
    const notSqlite = path.join(h.dir, 'not-a-database.db');
    writeFileSync(notSqlite, 'this is a text file, not SQLite\n'.repeat(10));
    const r = await doctor({ TEMPORAL_TASK_QUEUE: `${h.env.TEMPORAL_TASK_QUEUE}-nobody`, TEMPORAL_LEGACY_TASK_QUEUE: `${h.env.TEMPORAL_TASK_QUEUE}-nobody-legacy`, LEGACY_DB_PATH: notSqlite });
    expectExit(r, 1);
    const problems = failed(json<Report>(r));
    expect(Object.keys(problems).sort()).toEqual(['core workers', 'legacy file', 'legacy workers']);
    expect(problems['core workers']).toMatch(/^no worker polls task queue .*-nobody → start one: luckygas-sync worker --role core$/);
    expect(problems['legacy workers']).toMatch(/^no worker polls task queue .*-nobody-legacy → start one: luckygas-sync worker --role legacy/);
    expect(problems['legacy file']).toMatch(/is not an SQLite file → correct LEGACY_DB_PATH/);
  });

  it('names a worker serving another legacy file', async () => {
    const other = path.join(h.dir, 'other.db');
    generateLegacyDb({ path: other, seed: 82, clients: 5, drivers: 1, deliveries: 5 });
    const r = await doctor({ LEGACY_DB_PATH: other });
    expectExit(r, 1);
    const problems = failed(json<Report>(r));
    expect(problems['legacy workers']).toMatch(/polled by workers for another target/);
    expect(problems['legacy file']).toMatch(/this work was started for legacy file .*other\.db/);
  });
});
