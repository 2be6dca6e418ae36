import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main';

/**
 * The program's usage, parsed in this process: every command's --help, and the usage errors
 * that exit 2. (test/integration/cli.test.ts runs the built program for a few of the same.)
 */

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Parses argv as the program would, capturing what it prints and how it would exit. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out.stdout += String(s)), true)),
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((out.stderr += String(s)), true)),
    jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Exited(Number(code ?? 0));
    }),
  ];
  try {
    const argv = ['node', 'luckygas-sync', ...args];
    // As bin/luckygas-sync.js does: only the module of the command being run is loaded.
    await (await buildProgram(argv)).parseAsync(argv);
    return { code: 0, ...out };
  } catch (err) {
    if (err instanceof Exited) return { code: err.code, ...out };
    throw err;
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

/** Every command and subcommand, as words: ['schedule', 'create'] … */
async function commandPaths(argv?: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = (cmd: Command, prefix: string[]) => {
    for (const c of cmd.commands) {
      const p = [...prefix, c.name()];
      out.push(p.join(' '));
      walk(c, p);
    }
  };
  walk(await buildProgram(argv), []);
  return out;
}

/** The commands operators are told about (README, docs/), in the order help lists them. */
const COMMANDS = [
  'worker',
  ...['schedule', 'schedule create', 'schedule describe', 'schedule pause', 'schedule resume', 'schedule trigger', 'schedule delete'],
  'sync-once',
  'backfill',
  'status',
  ...['held-back', 'held-back list', 'held-back retry'],
  ...['conflicts', 'conflicts list', 'conflicts show', 'conflicts resolve'],
  'check',
  'rollback',
  ...['triggers', 'triggers install', 'triggers remove'],
  'monitor',
  'health',
  'doctor',
  ...['fixtures', 'fixtures generate'],
  ...['stack', 'stack up', 'stack down', 'stack status'],
  'demo',
];

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('luckygas-sync usage', () => {
  it('--help lists every command (exit 0)', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: luckygas-sync \[options\] \[command\]/);
    for (const name of ['worker', 'schedule', 'sync-once', 'backfill', 'status', 'held-back', 'conflicts', 'check', 'rollback', 'triggers', 'monitor', 'health', 'doctor', 'fixtures', 'stack', 'demo']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    }
  });

  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('has exactly the commands operators are told about', async () => {
    expect(await commandPaths()).toEqual(COMMANDS);
  });

  it('registers a command, and its subcommands, when that is the command being run', async () => {
    for (const top of COMMANDS.filter((c) => !c.includes(' '))) {
      const own = COMMANDS.filter((c) => c === top || c.startsWith(`${top} `));
      expect({ top, registered: await commandPaths(['node', 'luckygas-sync', '--log-format', 'json', top]) }).toEqual({ top, registered: expect.arrayContaining(own) });
    }
  });

  it.each(COMMANDS.map((c) => [c]))('%s --help prints its usage and description (exit 0)', async (name) => {
    const r = await run([...name.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: luckygas-sync ${name} \\[options\\]`));
    let cmd: Command = await buildProgram();
    for (const w of name.split(' ')) cmd = cmd.commands.find((c) => c.name() === w)!;
    expect(cmd.description().length).toBeGreaterThan(10);
    expect(squash(r.stdout)).toContain(squash(cmd.description()));
  });

  it.each<[string, string[], RegExp]>([
    ['an unknown command', ['bogus'], /unknown command 'bogus'/],
    ['an unknown subcommand', ['schedule', 'bogus'], /unknown command 'bogus'/],
    ['an unknown option', ['status', '--bogus'], /unknown option '--bogus'/],
    ['an option without its value', ['held-back', 'list', '--limit'], /option '--limit <n>' argument missing/],
    ['a missing required option', ['fixtures', 'generate'], /required option '-o, --out <file>' not specified/],
    ['an unexpected argument', ['sync-once', 'now'], /too many arguments for 'sync-once'/],
    ['a count that is not a number', ['held-back', 'list', '--limit', 'abc'], /--limit.*abc|abc.*--limit/],
    ['a worker role that does not exist', ['worker', '--role', 'both'], /--role.*both|both.*--role/],
    ['a log format that does not exist', ['--log-format', 'xml', 'status'], /--log-format.*xml|xml.*--log-format/],
  ])('%s is a usage error (exit 2) that says what was wrong', async (_what, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
