import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ConfigError } from '../config/env';
import { resolveLogFormat, setLogFormat } from '../logger';
import { PROJECT_ROOT } from '../paths';

type Register = (program: Command) => void;

/**
 * Every top-level command, in the order help lists them, and the module that registers it.
 * A run loads its own command's module only: loading them all (the Temporal client's
 * protocol buffers, pg, ioredis, prom-client ...) took ~0.3 s of every start.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  worker: async () => (await import('./commands/worker')).registerWorkerCommand,
  schedule: async () => (await import('./commands/schedule')).registerScheduleCommands,
  'sync-once': async () => (await import('./commands/sync')).registerSyncCommands,
  backfill: async () => (await import('./commands/backfill')).registerBackfillCommand,
  status: async () => (await import('./commands/status')).registerStatusCommand,
  'held-back': async () => (await import('./commands/heldBack')).registerHeldBackCommands,
  conflicts: async () => (await import('./commands/conflicts')).registerConflictCommands,
  check: async () => (await import('./commands/check')).registerCheckCommand,
  rollback: async () => (await import('./commands/rollback')).registerRollbackCommand,
  triggers: async () => (await import('./commands/triggers')).registerTriggerCommands,
  monitor: async () => (await import('./commands/monitor')).registerMonitorCommand,
  health: async () => (await import('./commands/monitor')).registerMonitorCommand,
  doctor: async () => (await import('./commands/doctor')).registerDoctorCommand,
  fixtures: async () => (await import('./commands/fixtures')).registerFixtureCommands,
  stack: async () => (await import('./commands/stack')).registerStackCommands,
  demo: async () => (await import('./commands/demo')).registerDemoCommand,
};

/** The command `argv` runs (its first word that is not an option), if it is one of ours. */
function commandOf(argv: string[]): string | null {
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--log-format') i++;
    else if (!argv[i].startsWith('-')) return Object.hasOwn(COMMANDS, argv[i]) ? argv[i] : null;
  }
  return null;
}

/** The version in package.json, read at run time: dist/ has no copy of it. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The program with every command, or with only the one `argv` runs (help, usage errors and the like get them all). */
export async function buildProgram(argv?: string[]): Promise<Command> {
  const program = new Command('luckygas-sync')
    .description('Keeps the legacy Lucky Gas database (SQLite, Big5) and the new system (PostgreSQL) in step, on Temporal.')
    .version(packageVersion())
    .option('--log-format <format>', 'logs on stderr as json or pretty (default: LOG_FORMAT, else pretty on a terminal, json otherwise)')
    .showHelpAfterError()
    .exitOverride((err) => {
      // Usage errors (unknown command, bad flag) exit 2; --help and --version exit 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .hook('preAction', () => {
      const { logFormat } = program.opts<{ logFormat?: string }>();
      try {
        setLogFormat(resolveLogFormat(logFormat ?? process.env.LOG_FORMAT, logFormat !== undefined ? '--log-format' : 'LOG_FORMAT'));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(2);
      }
    });
  const only = argv ? commandOf(argv) : null;
  const registers = await Promise.all((only ? [COMMANDS[only]] : Object.values(COMMANDS)).map((load) => load()));
  // monitor's module registers both monitor and health.
  for (const register of new Set(registers)) register(program);
  return program;
}

if (require.main === module) {
  buildProgram(process.argv)
    .then((program) => program.parseAsync(process.argv))
    .catch((err: Error) => {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    });
}
