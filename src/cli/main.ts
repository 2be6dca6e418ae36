import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ConfigError } from '../config/env';
import { resolveLogFormat, setLogFormat } from '../logger';
import { PROJECT_ROOT } from '../paths';
import { registerBackfillCommand } from './commands/backfill';
import { registerCheckCommand } from './commands/check';
import { registerConflictCommands } from './commands/conflicts';
import { registerDemoCommand } from './commands/demo';
import { registerDoctorCommand } from './commands/doctor';
import { registerFixtureCommands } from './commands/fixtures';
import { registerHeldBackCommands } from './commands/heldBack';
import { registerMonitorCommand } from './commands/monitor';
import { registerRollbackCommand } from './commands/rollback';
import { registerScheduleCommands } from './commands/schedule';
import { registerStackCommands } from './commands/stack';
import { registerStatusCommand } from './commands/status';
import { registerSyncCommands } from './commands/sync';
import { registerTriggerCommands } from './commands/triggers';
import { registerWorkerCommand } from './commands/worker';

/** The version in package.json, read at run time: dist/ has no copy of it. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
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
  registerWorkerCommand(program);
  registerScheduleCommands(program);
  registerSyncCommands(program);
  registerBackfillCommand(program);
  registerStatusCommand(program);
  registerHeldBackCommands(program);
  registerConflictCommands(program);
  registerCheckCommand(program);
  registerRollbackCommand(program);
  registerTriggerCommands(program);
  registerMonitorCommand(program);
  registerDoctorCommand(program);
  registerFixtureCommands(program);
  registerStackCommands(program);
  registerDemoCommand(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: Error) => {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    });
}
