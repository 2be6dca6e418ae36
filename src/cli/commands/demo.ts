import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { redactUrl } from '../../db/configErrors';
import { generateLegacyDb } from '../../fixtures/legacyFixture';
import { stackSettingsFromEnv } from '../../stack/settings';
import { stackUp } from '../../stack/stack';
import { SCHEDULE_ID } from '../../shared';
import { createOrUpdateSchedule } from '../../temporal/schedule';
import { targetOf } from '../../temporal/target';
import { connectForWork, webUiLink } from '../oneOffWorkflow';
import { action, printTable, wholeNumber } from '../output';
import { runCycleOnce, summaryRows } from './sync';

/** The main job on local defaults: stack, sample legacy file, schedule, one full cycle. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start the local stack, generate a sample legacy file (if none), create the schedule, run one full cycle and print where to watch it')
    .option('--deliveries <n>', 'deliveries in the sample file', wholeNumber, 20000)
    .action(
      action(async (opts: { deliveries: number }) => {
        const log = (l: string) => process.stderr.write(`${l}\n`);
        const endpoints = await stackUp(stackSettingsFromEnv(), log);
        Object.assign(process.env, Object.fromEntries(Object.entries(endpoints).filter(([k, v]) => v && !process.env[k])));
        const env = loadEnv();
        if (!existsSync(env.LEGACY_DB_PATH)) {
          mkdirSync(path.dirname(env.LEGACY_DB_PATH), { recursive: true });
          const s = generateLegacyDb({ path: env.LEGACY_DB_PATH, clients: Math.max(50, Math.round(opts.deliveries / 50)), drivers: 40, deliveries: opts.deliveries });
          log(`generated ${s.path}: ${s.clients} clients, ${s.drivers} drivers, ${s.deliveries} deliveries`);
        } else {
          log(`using the legacy file ${env.LEGACY_DB_PATH}`);
        }
        const client = await connectForWork(env);
        try {
          await createOrUpdateSchedule(client, env, targetOf(env, 'all'));
          log(`schedule ${SCHEDULE_ID}: a cycle every ${env.SYNC_INTERVAL_MINUTES} min (it runs when a worker polls: luckygas-sync worker)`);
        } finally {
          await client.connection.close();
        }
        const { workflowId, summary } = await runCycleOnce(undefined, 'demo');
        process.stdout.write('\n');
        printTable(summaryRows(summary));
        process.stdout.write(
          `\nTemporal Web UI: ${env.TEMPORAL_UI_URL ?? '(external Temporal)'}\n` +
            (env.TEMPORAL_UI_URL ? `This cycle:      ${webUiLink(env, workflowId)}\n` : '') +
            `PostgreSQL:      ${redactUrl(env.DATABASE_URL)}\nLegacy file:     ${env.LEGACY_DB_PATH}\n` +
            `Next: luckygas-sync worker (keeps the schedule running), luckygas-sync status, luckygas-sync stack down\n`,
        );
      }),
    );
}
