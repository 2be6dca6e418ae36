import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { buildProgram } from '../../src/cli/main';
import { legacyText } from '../../src/fixtures/legacyFixture';
import { SCHEDULE_ID } from '../../src/shared';
import { concurrently, expectExit, json, runCli, startCli, type CliResult } from '../support/cli';
import {
  cli,
  count,
  dataDir,
  db,
  deleteOurSchedules,
  dir,
  env,
  GENERATED,
  insertClient,
  legacy,
  NEW_TABLE,
  ourSchedules,
  pool,
  QUEUE,
  queue,
  temporalClient,
  terminate,
  useCliSuite,
  waitForPollers,
} from '../support/cliSuite';

/**
 * The command-line program as an operator runs it, against the real stack (test/support/cliSuite.ts);
 * its refusals of bad settings: cliErrors.test.ts; every command's usage: test/unit/cliUsage.test.ts.
 */
useCliSuite();

describe('luckygas-sync: help and usage errors', () => {
  it('--help describes the program and lists every command (exit 0)', async () => {
    const r = await cli(['--help']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^Usage: luckygas-sync \[options\] \[command\]/);
    for (const c of (await buildProgram()).commands) expect(r.stdout).toMatch(new RegExp(`^  ${c.name()}\\b`, 'm'));
  });

  it('--version prints the version in package.json (exit 0)', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expectExit(r, 0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('help <command> prints that command’s usage (exit 0)', async () => {
    const r = await cli(['help', 'sync-once']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^Usage: luckygas-sync sync-once \[options\]/);
  });

  // Every command's --help and each kind of usage error: test/unit/cliUsage.test.ts, in process.
  const usageCases: Array<[string, string[], RegExp]> = [
    ['an unknown command', ['bogus'], /unknown command 'bogus'/],
    ['no command at all', [], /Usage: luckygas-sync \[options\] \[command\]/],
  ];
  const usage = concurrently(
    usageCases.map(([what]) => what),
    (what) => cli(usageCases.find((c) => c[0] === what)![1]),
  );
  it.each(usageCases)('%s is a usage error (exit 2, with the usage)', async (what, _args, message) => {
    const r = await usage(what);
    expectExit(r, 2);
    expect(r.stderr).toMatch(message);
  }, 60_000);

  // Values the option parsers must refuse: a usage error, not a crash further on (exit 1)
  // and not a silent default. (`schedule create --every-seconds abc` is in the schedule tests.)
  it.each([
    ['held-back list --limit abc', ['held-back', 'list', '--limit', 'abc', '--json']],
    ['fixtures generate --clients abc', ['fixtures', 'generate', '--out', '<dir>/never.db', '--clients', 'abc']],
  ])('%s is a usage error (exit 2) naming the option', async (_what, args) => {
    const r = await cli(args.map((a) => a.replace('<dir>', dir)));
    expectExit(r, 2);
    expect(r.stderr).toMatch(/--(limit|clients)\b.*abc|abc.*--(limit|clients)\b/);
  });
});

describe('luckygas-sync against the real stack', () => {
  let firstCycle: string;
  let firstRun: CliResult;
  let heldId: number;

  it('sync-once --json runs a cycle with a worker of its own and writes every generated row', async () => {
    const r = await cli(['sync-once', '--json'], {}, { timeoutMs: 150_000 });
    firstRun = r;
    expectExit(r, 0);
    expect(r.stderr).toContain(`no worker polls task queue ${QUEUE} and ${QUEUE}-legacy: running one in this process`);
    const s = json(r);
    firstCycle = s.workflowId;
    expect(s.workflowId).toMatch(/^sync-cycle\/manual\/\d{4}-\d\d-\d\dT/);
    expect(s.cycleId).toBe(s.workflowId);
    expect(s.tables.length).toBeGreaterThanOrEqual(3);
    for (const t of s.tables) expect({ table: t.table, direction: t.direction, status: t.status }).toMatchObject({ status: 'completed' });
    const l2n = s.tables.filter((t: { direction: string }) => t.direction === 'legacy-to-new');
    expect(l2n.map((t: { table: string }) => t.table)).toEqual(['clients', 'drivers', 'deliveries']);
    for (const t of l2n) {
      const n = GENERATED[t.table as keyof typeof GENERATED];
      expect(t).toMatchObject({ runId: `table-sync/${t.table}/legacy-to-new/${s.workflowId}`, read: n, written: n, heldBack: 0, conflicts: 0 });
    }
    for (const [table, n] of Object.entries(GENERATED)) {
      expect({ table, rows: await count(`SELECT count(*) FROM ${NEW_TABLE[table as keyof typeof NEW_TABLE]}`) }).toEqual({ table, rows: n });
    }
  }, 180_000);

  it('status --json gives each table its watermark, last outcome and rows synced', async () => {
    const r = await cli(['status', '--json']);
    expectExit(r, 0);
    const status = json<{ tables: Array<Record<string, any>> }>(r).tables;
    for (const [table, n] of Object.entries(GENERATED)) {
      const s = status.find((x) => x.table === table && x.direction === 'legacy-to-new');
      expect(s).toMatchObject({
        watermark: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d #\d+$/),
        lastRun: `table-sync/${table}/legacy-to-new/${firstCycle}`,
        lastOutcome: 'completed',
        lastFinishedAt: expect.any(String),
        rowsSynced: n,
        errors: 0,
        heldBack: 0,
      });
    }
    for (const s of status) expect({ table: s.table, direction: s.direction, lastOutcome: s.lastOutcome }).toMatchObject({ lastOutcome: 'completed' });

    const text = await cli(['status']);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^table\s+direction\s+watermark/);
  });

  it('held-back list --json is an empty array when nothing is held back', async () => {
    const r = await cli(['held-back', 'list', '--json']);
    expectExit(r, 0);
    expect(json(r)).toEqual([]);
    const text = await cli(['held-back', 'list']);
    expect(text.stdout).toBe('no held-back rows\n');
  });

  it('held-back list and sync-once end as soon as they have printed (no connection left open)', async () => {
    const list = await cli(['held-back', 'list', '--json']);
    expectExit(list, 0);
    const lingered = (r: CliResult) => ({ command: r.args.join(' '), secondsAfterLastOutput: Math.round((r.ms - r.lastOutputMs) / 100) / 10 });
    // A few seconds at most for closing connections; pg's idle timeout (10 s) would show here.
    expect([lingered(list), lingered(firstRun)].filter((x) => x.secondsAfterLastOutput > 5)).toEqual([]);
  });

  it('health --json reports the sync, with the exit code its status calls for', async () => {
    const r = await cli(['health', '--json']);
    const report = json(r);
    const expected: Record<string, number> = { healthy: 0, info: 0, warning: 1, critical: 3 };
    expect(Object.keys(expected)).toContain(report.status);
    expectExit(r, expected[report.status]);
    expect(report.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'database', status: 'healthy' })]));
    // Freshly and completely synced: nothing to warn about.
    expect(report.status).toBe('healthy');
  });

  // The first sync-once's worker has exited, but Temporal still lists it as a poller of the
  // queue for a while: a command that trusts that list waits for a worker that is gone.
  it('a second sync-once on the same task queue right after the first runs too (it does not wait for the exited worker)', async () => {
    const r = await cli(['sync-once', '--json'], {}, { timeoutMs: 60_000 });
    const started = r.stderr.match(/started (sync-cycle\/\S+)/);
    if (r.code !== 0 && started) await terminate(started[1]);
    expectExit(
      r,
      0,
      r.timedOut && !r.stderr.includes('no worker polls')
        ? `It ran no worker of its own: the queue still lists the poller of the sync-once that ran just before (its process has exited), so the cycle waited for a worker that is gone.`
        : '',
    );
    const s = json(r);
    for (const t of s.tables) expect({ table: t.table, direction: t.direction, status: t.status, written: t.written }).toMatchObject({ status: 'completed', written: 0 });
  }, 90_000);

  it('held-back list shows an undecodable legacy row, with its reason, after the next sync-once', async () => {
    heldId = insertClient('BAD1', Buffer.from([0xa4, 0xa4, 0xfa, 0x50]), '2030-01-01 10:00:00');
    const r = await cli(['sync-once', '--json'], { TEMPORAL_TASK_QUEUE: queue('heldback') }, { timeoutMs: 150_000 });
    expectExit(r, 0);
    expect(json(r).tables.find((t: { table: string }) => t.table === 'clients')).toMatchObject({ status: 'completed', heldBack: 1, written: 0 });

    const list = await cli(['held-back', 'list', '--json']);
    expectExit(list, 0);
    const rows = json<Array<Record<string, any>>>(list);
    expect(rows).toEqual([
      expect.objectContaining({
        table: 'clients',
        direction: 'legacy-to-new',
        rowId: heldId,
        reasonKind: 'decode',
        reason: expect.stringMatching(/invoice_title: unknown EUDC code FA50 at offset 2/),
        resolvedAt: null,
      }),
    ]);
    expect(rows[0].raw.invoice_title).toBe('a4a4fa50');

    const text = await cli(['held-back', 'list']);
    expect(text.stdout).toMatch(new RegExp(`clients\\s+legacy-to-new\\s+${heldId}\\s+decode\\s+invoice_title: unknown EUDC code FA50`));
    expect(json(await cli(['held-back', 'list', '--table', 'drivers', '--json']))).toEqual([]);
    const status = json<{ tables: Array<Record<string, any>> }>(await cli(['status', '--json'])).tables;
    expect(status.find((s) => s.table === 'clients' && s.direction === 'legacy-to-new')).toMatchObject({ heldBack: 1, lastOutcome: 'completed' });
    expect(await count('SELECT count(*) FROM customers WHERE legacy_id = $1', [heldId])).toBe(0);
  }, 180_000);

  it('held-back retry syncs the row once its bytes are fixed, and resolves the hold', async () => {
    // Fixed in place (same updated_at): only the retry of held-back rows picks it up.
    legacy((file) => file.prepare('UPDATE clients SET invoice_title = CAST(? AS TEXT) WHERE id = ?').run(legacyText('中和行', 'cp950'), heldId));
    const r = await cli(['held-back', 'retry', '--table', 'clients', '--json'], { TEMPORAL_TASK_QUEUE: queue('retry') }, { timeoutMs: 150_000 });
    expectExit(r, 0);
    expect(json(r)).toEqual([expect.objectContaining({ table: 'clients', status: 'completed', read: 1, written: 1, heldBack: 0 })]);

    expect(json(await cli(['held-back', 'list', '--json']))).toEqual([]);
    const all = json<Array<Record<string, any>>>(await cli(['held-back', 'list', '--all', '--json']));
    expect(all).toEqual([expect.objectContaining({ rowId: heldId, resolvedAt: expect.any(String) })]);
    expect((await pool.query('SELECT name FROM customers WHERE legacy_id = $1', [heldId])).rows).toEqual([{ name: '中和行' }]);
  }, 180_000);

  it('triggers install adds sync_queue and a trigger per table and operation; triggers remove --drop-queue takes them out', async () => {
    const names = Object.keys(GENERATED)
      .flatMap((t) => ['insert', 'update', 'delete'].map((op) => `luckygas_sync_${t}_${op}`))
      .sort();
    const inFile = () =>
      legacy((file) => ({
        triggers: (file.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name`).all() as { name: string }[]).map((x) => x.name),
        queue: (file.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'sync_queue'`).get() as { n: number }).n,
      }));

    for (let i = 0; i < 2; i++) {
      // Twice: installing is idempotent.
      const r = await cli(['triggers', 'install']);
      expectExit(r, 0);
      expect(r.stdout).toBe(`installed: ${names.join(', ')}\n`);
    }
    expect(inFile()).toEqual({ triggers: names, queue: 1 });
    legacy((file) => file.prepare('UPDATE drivers SET phone = phone WHERE id = 1').run());
    expect(legacy((file) => file.prepare(`SELECT table_name, record_id, operation FROM sync_queue`).all())).toEqual([{ table_name: 'drivers', record_id: 1, operation: 'UPDATE' }]);

    const r = await cli(['triggers', 'remove', '--drop-queue']);
    expectExit(r, 0);
    expect(r.stdout).toBe('no sync triggers left\n');
    expect(inFile()).toEqual({ triggers: [], queue: 0 });
  });

  it('backfill --table clients --json re-reads every legacy client and rewrites none that are already in step, each time it runs', async () => {
    const legacyClients = GENERATED.clients + 1;
    // Twice: a backfill started again (same workflow id) reads the table again, it does not find the last one's batches done.
    for (const attempt of ['first', 'second']) {
      const r = await cli(['backfill', '--table', 'clients', '--json'], { TEMPORAL_TASK_QUEUE: queue(`backfill-${attempt}`) }, { timeoutMs: 150_000 });
      expectExit(r, 0);
      expect(json(r)).toEqual([
        expect.objectContaining({ runId: 'backfill/clients', table: 'clients', status: 'completed', read: legacyClients, written: 0, unchanged: legacyClients, heldBack: 0 }),
      ]);
    }
    expect((await pool.query(`SELECT kind, status FROM sync_runs WHERE id = 'backfill/clients'`)).rows).toEqual([{ kind: 'backfill', status: 'completed' }]);
    expect(await count('SELECT count(*) FROM customers')).toBe(legacyClients);
  }, 180_000);

  it('check --json finds both sides in step (exit 0)', async () => {
    const r = await cli(['check', '--json'], { TEMPORAL_TASK_QUEUE: queue('check') }, { timeoutMs: 150_000 });
    expectExit(r, 0);
    expect(json(r)).toMatchObject({ status: 'clean', differences: 0 });
  }, 180_000);

  it('worker serves the task queue until SIGTERM, and sync-once then uses it instead of running its own', async () => {
    const q = queue('worker');
    const worker = startCli(['worker'], { env: env({ TEMPORAL_TASK_QUEUE: q }) });
    let r!: CliResult;
    let stopped!: CliResult;
    try {
      await waitForPollers(q, 60_000);
      r = await cli(['sync-once', '--json'], { TEMPORAL_TASK_QUEUE: q }, { timeoutMs: 120_000 });
    } finally {
      stopped = await worker.stop('SIGTERM', 30_000);
    }
    expectExit(r, 0);
    expect(r.stderr).not.toContain('no worker polls');
    for (const t of json(r).tables) expect({ table: t.table, status: t.status }).toMatchObject({ status: 'completed' });
    expectExit(stopped, 0);
  }, 180_000);

  it('monitor serves /health and /metrics until SIGTERM', async () => {
    const monitor = startCli(['monitor', '--port', '0', '--host', '127.0.0.1'], { env: env() });
    let stopped!: CliResult;
    try {
      const [, port] = await monitor.waitFor(/monitor listening on 127\.0\.0\.1:(\d+)/, 60_000);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      const report = (await health.json()) as { status: string };
      expect(['healthy', 'info', 'warning', 'critical']).toContain(report.status);
      expect(health.status).toBe(report.status === 'critical' ? 503 : 200);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^luckygas_sync_\w+/m);
    } finally {
      stopped = await monitor.stop('SIGTERM', 20_000);
    }
    expectExit(stopped, 0);
  }, 120_000);

  it('schedule create, describe, pause, resume, trigger and delete drive the one schedule', async () => {
    const q = queue('schedule');
    const schedule = (args: string[]) => cli(['schedule', ...args], { TEMPORAL_TASK_QUEUE: q });
    const describe = async () => {
      const r = await schedule(['describe', '--json']);
      expectExit(r, 0);
      return json(r);
    };
    try {
      let r = await schedule(['create']);
      expectExit(r, 0);
      expect(r.stdout).toMatch(new RegExp(`^schedule ${SCHEDULE_ID}: every 5 min, task queue ${q}$`, 'm'));
      const d = await describe();
      expect(d).toMatchObject({ scheduleId: SCHEDULE_ID, paused: false, overlap: 'SKIP', spec: { intervals: [{ every: 300_000 }] } });
      expect(d.nextActionTimes.length).toBeGreaterThan(0);

      // Again: updates the existing schedule.
      r = await schedule(['create', '--every-seconds', '3600']);
      expectExit(r, 0);
      expect(r.stdout).toMatch(new RegExp(`^schedule ${SCHEDULE_ID}: every 3600 s, task queue ${q}$`, 'm'));
      expect((await describe()).spec.intervals).toEqual([expect.objectContaining({ every: 3_600_000 })]);

      r = await schedule(['pause']);
      expectExit(r, 0);
      expect(r.stdout).toBe(`schedule ${SCHEDULE_ID}: pause done\n`);
      expect(await describe()).toMatchObject({ paused: true, note: 'paused from the CLI' });
      r = await schedule(['describe']);
      expect(r.stdout).toMatch(new RegExp(`^${SCHEDULE_ID}: paused \\(paused from the CLI\\), overlap SKIP`));

      r = await schedule(['resume', '--note', 'back after the test']);
      expectExit(r, 0);
      expect(await describe()).toMatchObject({ paused: false, note: 'back after the test' });

      // The actions since the trigger: the 5-minute interval may have fired on its own, at a
      // multiple of 5 minutes, between the schedule's creation and its update.
      const triggeredAt = Date.now() - 1000;
      r = await schedule(['trigger']);
      expectExit(r, 0);
      expect(r.stdout).toBe(`schedule ${SCHEDULE_ID}: trigger done\n`);
      let all: { workflowId: string; at: string }[] = [];
      let recent: { workflowId: string; at: string }[] = [];
      for (const deadline = Date.now() + 20_000; recent.length === 0 && Date.now() < deadline; ) {
        all = (await describe()).recentActions;
        recent = all.filter((a) => Date.parse(a.at) >= triggeredAt);
        if (recent.length === 0) await new Promise((res) => setTimeout(res, 500));
      }
      expect(recent).toEqual([expect.objectContaining({ workflowId: expect.stringMatching(/^sync-cycle\/scheduled/) })]);
      const cycle = await temporalClient.workflow.getHandle(recent[0].workflowId).describe();
      expect({ type: cycle.type, taskQueue: cycle.taskQueue }).toEqual({ type: 'SyncCycleWorkflow', taskQueue: q });
      for (const a of all) await terminate(a.workflowId); // no worker polls this queue

      r = await schedule(['delete']);
      expectExit(r, 0);
      expect(r.stdout).toBe(`schedule ${SCHEDULE_ID}: delete done\n`);
      r = await schedule(['describe']);
      expectExit(r, 1);
      expect(r.stderr).toMatch(/not found/);
      // Whatever schedules `create` made for this queue, `delete` took them all away.
      expect(await ourSchedules()).toEqual([]);
    } finally {
      await deleteOurSchedules();
    }
  }, 180_000);

  it('schedule describe and pause without a schedule exit 1, naming the schedule and the command that creates it', async () => {
    expect(await ourSchedules()).toEqual([]);
    for (const command of ['describe', 'pause']) {
      const r = await cli(['schedule', command], { TEMPORAL_TASK_QUEUE: queue('no-schedule') });
      expectExit(r, 1);
      expect(r.stderr).toBe(`error: schedule ${SCHEDULE_ID} not found in namespace default: create it with \`luckygas-sync schedule create\`\n`);
    }
  });

  it('schedule create --every-seconds abc is a usage error (exit 2) and creates no schedule', async () => {
    const q = queue('schedule-bad');
    try {
      const r = await cli(['schedule', 'create', '--every-seconds', 'abc'], { TEMPORAL_TASK_QUEUE: q });
      expectExit(r, 2);
      expect(r.stderr).toMatch(/--every-seconds/);
      expect(await ourSchedules()).toEqual([]);
    } finally {
      await deleteOurSchedules();
    }
  });

  it('status --json works from any working directory (the table configuration is found in the checkout)', async () => {
    const r = await runCli(['status', '--json'], { env: env(), cwd: os.tmpdir(), timeoutMs: 60_000 });
    expectExit(r, 0);
    expect(json<{ tables: unknown[] }>(r).tables.length).toBeGreaterThanOrEqual(3);
  });

  it('stack status --json reports the services the environment points at as external, and an empty data folder as stopped', async () => {
    let r = await cli(['stack', 'status', '--json']);
    expectExit(r, 0);
    expect(json(r)).toEqual({
      dataDir,
      services: { temporal: 'external', postgres: 'external', redis: 'external' },
      endpoints: { DATABASE_URL: db.url, REDIS_URL: process.env.TEST_REDIS_URL, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS, TEMPORAL_UI_URL: null },
    });
    r = await cli(['stack', 'status', '--json'], { DATABASE_URL: undefined, REDIS_URL: undefined, TEMPORAL_ADDRESS: undefined });
    expectExit(r, 0);
    expect(json(r)).toMatchObject({ dataDir, services: { temporal: 'stopped', postgres: 'stopped', redis: 'stopped' } });
    r = await cli(['stack', 'status']);
    expect(r.stdout).toContain(`data folder: ${dataDir}\n`);
  });
});
