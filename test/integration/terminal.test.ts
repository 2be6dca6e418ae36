import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { SCHEDULE_ID } from '../../src/shared';
import { CLI, cliEnv, expectExit, runCli, startCli, type CliResult } from '../support/cli';
import { createTestDatabase } from '../support/testDatabase';

/**
 * What people see on a terminal, and what scripts get when there is none: the log format, the
 * progress bars of backfill, check and rollback, and the demo's story. A terminal is a real
 * pseudo-terminal (util-linux `script`), so the program's own isTTY checks decide.
 */

const PREFIX = `test-terminal-${randomBytes(4).toString('hex')}`;
let step = 0;
/** A task queue no earlier command used: Temporal lists a poller for minutes after it left. */
const queue = () => `${PREFIX}-${++step}`;

let dir: string;
let legacyPath: string;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    LEGACY_DB_PATH: legacyPath,
    DATABASE_URL: db.url,
    REDIS_URL: process.env.TEST_REDIS_URL,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: queue(),
    LUCKYGAS_DATA_DIR: path.join(dir, 'data'),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** What a terminal shows, without colours and cursor moves; each redraw (back to column 1) on a line of its own. */
const screen = (raw: string) =>
  raw
    .replace(/\x1b\[\d*G/g, '\n')
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, '\n');

/**
 * The program on a pseudo-terminal (stdout and stderr both): its exit code and the screen.
 * With `ctrlC`, Ctrl-C is typed once the screen shows it (the terminal sends SIGINT).
 */
function inTerminal(args: string[], vars: Record<string, string | undefined>, ctrlC?: RegExp, timeoutMs = 120_000): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: cliEnv(vars), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let typed = false;
    const seen = (d: string) => {
      out += d;
      if (ctrlC && !typed && ctrlC.test(screen(out))) {
        typed = true;
        child.stdin.write('\x03');
      }
    };
    child.stdout.setEncoding('utf8').on('data', seen);
    child.stderr.setEncoding('utf8').on('data', seen);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen: screen(out) });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'luckygas-terminal-'));
  legacyPath = path.join(dir, 'legacy.db');
  generateLegacyDb({ path: legacyPath, clients: 50, drivers: 5, deliveries: 200 });
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('log format', () => {
  /** A worker until it logged that it started, then stopped. */
  async function workerLogs(extra: Record<string, string | undefined>, args: string[] = []): Promise<CliResult> {
    const worker = startCli([...args, 'worker'], { env: env(extra) });
    await worker.waitFor(/worker started/, 60_000);
    return worker.stop('SIGINT');
  }
  const jsonLines = (text: string) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; level: number });

  it('is JSON when stderr is not a terminal', async () => {
    const r = await workerLogs({});
    expect(jsonLines(r.stderr).map((l) => l.msg)).toEqual(expect.arrayContaining(['worker started', 'worker stopped']));
  });

  it('is one short line per entry with --log-format pretty, JSON with LOG_FORMAT=json', async () => {
    const pretty = await workerLogs({ LOG_FORMAT: 'json' }, ['--log-format', 'pretty']);
    expect(pretty.stderr).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: worker started \{"role":"all","taskQueues":\["[^"]+",/m);
    expect(pretty.stderr).not.toMatch(/"level":|"hostname":/);
    const json = await workerLogs({ LOG_FORMAT: 'json' });
    expect(jsonLines(json.stderr).map((l) => l.msg)).toContain('worker started');
  });

  it('is pretty on a terminal', async () => {
    // Stopped with Ctrl-C once it has started, logging as it goes.
    const r = await inTerminal(['worker'], env(), /INFO: worker started/);
    expect(r.screen).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: worker started/m);
    // The terminal echoes the Ctrl-C (^C) where the cursor was.
    expect(r.screen).toMatch(/^(\^C)?\[\d\d:\d\d:\d\d\] INFO: worker stopped/m);
    expect(r.screen).not.toContain('"level"');
  });

  it('refuses an unknown format, naming where it came from (exit 2)', async () => {
    const option = await runCli(['--log-format', 'xml', 'status'], { env: env() });
    expectExit(option, 2);
    expect(option.stderr).toBe("error: --log-format must be one of json, pretty, not 'xml'\n");
    const variable = await runCli(['status'], { env: env({ LOG_FORMAT: 'yaml' }) });
    expectExit(variable, 2);
    expect(variable.stderr).toBe("error: LOG_FORMAT must be one of json, pretty, not 'yaml'\n");
  });
});

describe('progress bars', () => {
  let since: string;

  it('backfill draws one on a terminal, and prints no bar with --json', async () => {
    since = new Date().toISOString();
    const r = await inTerminal(['backfill', '--table', 'clients'], env());
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/^clients \[[█░]+\] 50\/50 rows \| \d+ rows\/s/m);
    const j = await inTerminal(['backfill', '--table', 'drivers', '--json'], env());
    expect(j.code).toBe(0);
    expect(j.screen).not.toMatch(/\] \d+\/\d+ rows/);
    expect(j.screen).toMatch(/"table": "drivers"/);
  });

  it('check draws one on a terminal, none when its output is piped', async () => {
    const r = await inTerminal(['check', '--table', 'clients', 'drivers'], env());
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/^check \[[█░]+\] 2\/2 tables \| done$/m);
    expect(r.screen).toContain('consistent');
    const piped = await runCli(['check', '--table', 'clients'], { env: env(), timeoutMs: 120_000 });
    expectExit(piped, 0);
    expect(piped.stdout + piped.stderr).not.toMatch(/check \[|tables \|/);
  });

  it('rollback draws one on a terminal, none with --json', async () => {
    const r = await inTerminal(['rollback', '--since', since, '--table', 'clients', '--dry-run'], env());
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/^dry-run rollback \[[█░]+\] 50\/50 rows \| 50 to restore, 0 conflicts/m);
    const j = await inTerminal(['rollback', '--since', since, '--table', 'clients', '--dry-run', '--json'], env());
    expect(j.code).toBe(0);
    expect(j.screen).not.toContain('rollback [');
    expect(j.screen).toMatch(/"restored": 50/);
  });
});

describe('the demo', () => {
  it('tells its story in order, with no log lines in it, and says where the logs are', async () => {
    // A database of its own: the rows synced above would meet the demo's.
    const demoDb = await createTestDatabase();
    const vars = env({ LEGACY_DB_PATH: path.join(dir, 'demo', 'legacy.db'), DATABASE_URL: demoDb.url });
    const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
    try {
      const r = await inTerminal(['demo', '--deliveries', '300'], vars);
      expect({ code: r.code, screen: r.screen }).toMatchObject({ code: 0 });
      const headings = [...r.screen.matchAll(/^(\d)\. (.+)$/gm)].map((m) => `${m[1]}. ${m[2].replace(/ \(.*$/, '')}`);
      expect(headings).toEqual(['1. Local stack', '2. Legacy file', '3. Schedule', '4. One full cycle, every table and direction', '5. Summary', '6. Where to look next']);
      const summary = r.screen.slice(r.screen.indexOf('5. Summary'), r.screen.indexOf('6. Where to look next'));
      expect(summary).toMatch(/^deliveries\s+legacy-to-new\s+completed\s+300\s+300\b/m);
      expect(r.screen).not.toMatch(/"level"|INFO:/);
      const logFile = r.screen.match(/worker logs\s+(\S+)/)?.[1];
      expect(logFile).toBe(path.join(dir, 'data', 'logs', 'demo.log'));
      expect(existsSync(logFile!)).toBe(true);
      const logged = readFileSync(logFile!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
      expect(logged.length).toBeGreaterThan(0);
    } finally {
      // The demo creates the cycle's schedule; other tests expect none.
      await new Client({ connection }).schedule.getHandle(SCHEDULE_ID).delete().catch(() => {});
      await connection.close();
      await demoDb.drop();
    }
  });
});
