import { Command } from 'commander';
import { registerStackCommands } from './commands/stack';

export function buildProgram(): Command {
  const program = new Command('luckygas-sync')
    .description('Keeps the legacy Lucky Gas database (SQLite, Big5) and the new system (PostgreSQL) in step, on Temporal.')
    .showHelpAfterError()
    .exitOverride((err) => {
      // Usage errors (unknown command, bad flag) exit 2; --help and --version exit 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  registerStackCommands(program);
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
