import type { Command } from 'commander';
import { loadEnv, type AppEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { createPool } from '../../db/postgres';
import { tableStatus } from '../../state/status';
import { connectClient } from '../../temporal/connection';
import { livePollers, type Poller } from '../../temporal/inProcessWorker';
import { action, printJson, printTable } from '../output';

interface QueueWorkers {
  taskQueue: string;
  serves: string;
  workers: Poller[] | null;
  error?: string;
}

/** The workers polling each task queue, as their identities say (role and target); null when Temporal cannot be asked. */
async function queueWorkers(env: AppEnv): Promise<QueueWorkers[]> {
  const queues = [
    { taskQueue: env.TEMPORAL_TASK_QUEUE, serves: 'core (workflows, PostgreSQL)', type: 'workflow' as const },
    { taskQueue: env.TEMPORAL_LEGACY_TASK_QUEUE, serves: 'legacy agent (the legacy file)', type: 'activity' as const },
  ];
  try {
    const client = await connectClient(env);
    try {
      return await Promise.all(queues.map(async (q) => ({ taskQueue: q.taskQueue, serves: q.serves, workers: await livePollers(client, env.TEMPORAL_NAMESPACE, q.taskQueue, q.type) })));
    } finally {
      await client.connection.close();
    }
  } catch (err) {
    return queues.map((q) => ({ taskQueue: q.taskQueue, serves: q.serves, workers: null, error: (err as Error).message }));
  }
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('per table: watermark, lag, last run and its outcome, rows synced, errors, conflicts (open), held back, queued; and the workers of each task queue')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const env = loadEnv();
        const config = loadSyncConfig(env.SYNC_TABLES_CONFIG);
        const pool = createPool(env.DATABASE_URL, 2);
        let status;
        try {
          status = await tableStatus(pool, config.tables.flatMap((t) => t.directions.map((direction) => ({ table: t.legacyTable, direction }))));
        } finally {
          await pool.end();
        }
        const workers = await queueWorkers(env);
        if (opts.json) return printJson({ tables: status, workers });
        printTable(
          status.map((s) => ({
            table: s.table,
            direction: s.direction,
            watermark: s.watermark,
            lag: s.lagSeconds === null ? 'never synced' : `${s.lagSeconds}s`,
            'last run': s.lastOutcome,
            synced: s.rowsSynced,
            errors: s.errors,
            conflicts: s.conflicts,
            'open conflicts': s.openConflicts,
            'held back': s.heldBack,
            queued: s.queued,
          })),
        );
        for (const s of status) if (s.lastReason && s.lastOutcome !== 'completed') process.stdout.write(`${s.table} ${s.direction}: last run ${s.lastOutcome}: ${s.lastReason}\n`);
        process.stdout.write('\n');
        for (const q of workers) {
          const who = q.workers === null ? `unknown (${q.error})` : q.workers.length === 0 ? 'no worker polls it' : q.workers.map((w) => w.identity).join('; ');
          process.stdout.write(`task queue ${q.taskQueue} — ${q.serves}: ${who}\n`);
        }
      }),
    );
}
