import type { Command } from 'commander';
import { stackSettingsFromEnv } from '../../stack/settings';
import { stackDown, stackStatus, stackUp } from '../../stack/stack';
import { action, printJson } from '../output';

export function registerStackCommands(program: Command): void {
  const stack = program.command('stack').description('the local stack: Temporal dev server (with Web UI), PostgreSQL, Redis');

  stack
    .command('up')
    .description('start the local stack (idempotent), apply the migrations, print its settings')
    .option('--json', 'print the settings as JSON')
    .option('--quiet', 'print nothing on success')
    .action(
      action(async (opts: { json?: boolean; quiet?: boolean }) => {
        const settings = stackSettingsFromEnv();
        const endpoints = await stackUp(settings, opts.json || opts.quiet ? undefined : (l) => process.stderr.write(`${l}\n`));
        if (opts.json) printJson(endpoints);
        else if (!opts.quiet) {
          for (const [k, v] of Object.entries(endpoints)) if (v) process.stdout.write(`${k}=${v}\n`);
        }
      }),
    );

  stack
    .command('down')
    .description('stop the local stack (its data stays in the data folder)')
    .action(action(async () => stackDown(stackSettingsFromEnv(), (l) => process.stderr.write(`${l}\n`))));

  stack
    .command('status')
    .description('which services of the local stack run')
    .option('--json', 'print as JSON')
    .action(
      action((opts: { json?: boolean }) => {
        const status = stackStatus(stackSettingsFromEnv());
        if (opts.json) return printJson(status);
        process.stdout.write(`data folder: ${status.dataDir}\n`);
        for (const [name, state] of Object.entries(status.services)) process.stdout.write(`${name.padEnd(9)} ${state}\n`);
        for (const [k, v] of Object.entries(status.endpoints)) if (v) process.stdout.write(`${k}=${v}\n`);
      }),
    );
}
