import type { Command } from 'commander';
import { generateLegacyDb } from '../../fixtures/legacyFixture';
import { action, printJson, wholeNumber } from '../output';

export function registerFixtureCommands(program: Command): void {
  program
    .command('fixtures')
    .description('legacy test data')
    .command('generate')
    .description('write a legacy SQLite file with realistic Lucky Gas data, stored as the real file stores it (CP950, EUDC, UTF-8 rows, BLOB notes)')
    .requiredOption('-o, --out <file>', 'the SQLite file to write')
    .option('--clients <n>', 'clients', wholeNumber, 200)
    .option('--drivers <n>', 'drivers', wholeNumber, 20)
    .option('--deliveries <n>', 'deliveries', wholeNumber, 2000)
    .option('--seed <n>', 'seed (same seed, same file)', wholeNumber, 1)
    .option('--overwrite', 'replace an existing file')
    .option('--wal', 'leave the file in WAL journal mode')
    .option('--json', 'print the summary as JSON')
    .action(
      action((opts: { out: string; clients: number; drivers: number; deliveries: number; seed: number; overwrite?: boolean; wal?: boolean; json?: boolean }) => {
        const summary = generateLegacyDb({
          path: opts.out,
          clients: opts.clients,
          drivers: opts.drivers,
          deliveries: opts.deliveries,
          seed: opts.seed,
          overwrite: opts.overwrite,
          journalMode: opts.wal ? 'wal' : 'delete',
        });
        if (opts.json) printJson(summary);
        else process.stdout.write(`wrote ${summary.path}: ${summary.clients} clients, ${summary.drivers} drivers, ${summary.deliveries} deliveries in ${summary.seconds.toFixed(1)} s\n`);
      }),
    );
}
