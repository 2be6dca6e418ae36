import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { redactUrl } from '../../db/configErrors';
import { generateLegacyDb } from '../../fixtures/legacyFixture';
import { logToFile } from '../../logger';
import { stackSettingsFromEnv } from '../../stack/settings';
import { stackUp } from '../../stack/stack';
import { SCHEDULE_ID } from '../../shared';
import { createOrUpdateSchedule } from '../../temporal/schedule';
import { targetOf } from '../../temporal/target';
import { connectForWork, webUiLink } from '../oneOffWorkflow';
import { action, printTable, wholeNumber } from '../output';
import { runCycleOnce, summaryRows } from './sync';

/** The demo's story on stdout: numbered steps, each with a line or two of what happened. */
const say = (line = '') => process.stdout.write(`${line}\n`);
const step = (n: number, title: string) => say(`\n${n}. ${title}`);
const detail = (line: string) => say(`   ${line}`);

/** The main job on local defaults: stack, sample legacy file, schedule, one full cycle. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start the local stack, generate a sample legacy file (if none), create the schedule, run one full cycle and print where to watch it')
    .option('--deliveries <n>', 'deliveries in the sample file', wholeNumber, 20000)
    .action(
      action(async (opts: { deliveries: number }) => {
        const settings = stackSettingsFromEnv();
        // The cycle's worker runs in this process: its logs go to a file, not into the story.
        const logFile = path.join(settings.dataDir, 'logs', 'demo.log');
        logToFile(logFile);
        say('luckygas-sync demo: the legacy SQLite file and PostgreSQL kept in step, on Temporal');

        step(1, `Local stack (data in ${settings.dataDir})`);
        const endpoints = await stackUp(settings, detail);
        Object.assign(process.env, Object.fromEntries(Object.entries(endpoints).filter(([k, v]) => v && !process.env[k])));
        const env = loadEnv();

        step(2, 'Legacy file');
        if (!existsSync(env.LEGACY_DB_PATH)) {
          mkdirSync(path.dirname(env.LEGACY_DB_PATH), { recursive: true });
          const s = generateLegacyDb({ path: env.LEGACY_DB_PATH, clients: Math.max(50, Math.round(opts.deliveries / 50)), drivers: 40, deliveries: opts.deliveries });
          detail(`generated ${s.path}: ${s.clients} clients, ${s.drivers} drivers, ${s.deliveries} deliveries (Big5 text, EUDC characters, some UTF-8 rows)`);
        } else {
          detail(`using the existing ${env.LEGACY_DB_PATH}`);
        }

        step(3, 'Schedule');
        const client = await connectForWork(env);
        try {
          await createOrUpdateSchedule(client, env, targetOf(env, 'all'));
          detail(`${SCHEDULE_ID}: a cycle every ${env.SYNC_INTERVAL_MINUTES} min, whenever a worker polls task queue ${env.TEMPORAL_TASK_QUEUE}`);
        } finally {
          await client.connection.close();
        }

        step(4, 'One full cycle, every table and direction');
        const started = Date.now();
        const { workflowId, summary } = await runCycleOnce(undefined, 'demo');
        detail(`${workflowId}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

        step(5, 'Summary');
        printTable(summaryRows(summary));

        step(6, 'Where to look next');
        const link = webUiLink(env, workflowId);
        if (env.TEMPORAL_UI_URL) detail(`Temporal Web UI   ${env.TEMPORAL_UI_URL}`);
        if (link) detail(`this cycle        ${link}`);
        detail(`PostgreSQL        ${redactUrl(env.DATABASE_URL)}`);
        detail(`legacy file       ${env.LEGACY_DB_PATH}`);
        detail(`worker logs       ${logFile}`);
        detail('keep it running   node bin/luckygas-sync.js worker');
        detail('where tables are  node bin/luckygas-sync.js status');
        detail('stop everything   node bin/luckygas-sync.js stack down');
      }),
    );
}
