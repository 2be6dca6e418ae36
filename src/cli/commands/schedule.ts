import type { Command } from 'commander';
import { ScheduleNotFoundError, type Client, type ScheduleHandle } from '@temporalio/client';
import { loadEnv } from '../../config/env';
import { CONSISTENCY_SCHEDULE_ID, SCHEDULE_ID } from '../../shared';
import { connectClient } from '../../temporal/connection';
import { createOrUpdateConsistencySchedule, createOrUpdateSchedule } from '../../temporal/schedule';
import { targetOf } from '../../temporal/target';
import { connectForWork } from '../oneOffWorkflow';
import { action, CliError, EXIT, printJson, wholeNumber } from '../output';

async function withSchedule<T>(body: (handle: ScheduleHandle, client: Client) => Promise<T>): Promise<T> {
  const env = loadEnv();
  const client = await connectClient(env);
  try {
    return await body(client.schedule.getHandle(SCHEDULE_ID), client);
  } catch (err) {
    // Temporal's own message names an internal workflow id; say which schedule, and how to make it.
    if (err instanceof ScheduleNotFoundError) {
      throw new CliError(`schedule ${SCHEDULE_ID} not found in namespace ${env.TEMPORAL_NAMESPACE}: create it with \`luckygas-sync schedule create\``, EXIT.failed);
    }
    throw err;
  } finally {
    await client.connection.close();
  }
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description(`the Temporal schedule (${SCHEDULE_ID}) that starts a sync cycle every interval`);

  schedule
    .command('create')
    .description(`create the schedule, or update it to the current SYNC_CRON / SYNC_INTERVAL_MINUTES (overlap: skip); also the daily consistency check (${CONSISTENCY_SCHEDULE_ID})`)
    .option('--every-seconds <n>', 'a short interval instead, for demos and tests', wholeNumber)
    .action(
      action(async (opts: { everySeconds?: number }) => {
        const env = loadEnv();
        // The schedules start work for this installation's legacy file and database.
        const client = await connectForWork(env);
        const target = targetOf(env, 'all');
        try {
          await createOrUpdateSchedule(client, env, target, { intervalSeconds: opts.everySeconds });
          await createOrUpdateConsistencySchedule(client, env, target);
          const spec = opts.everySeconds ? `every ${opts.everySeconds} s` : env.SYNC_CRON ? `cron ${env.SYNC_CRON}` : `every ${env.SYNC_INTERVAL_MINUTES} min`;
          process.stdout.write(`schedule ${SCHEDULE_ID}: ${spec}, task queue ${env.TEMPORAL_TASK_QUEUE}\n`);
          process.stdout.write(`schedule ${CONSISTENCY_SCHEDULE_ID}: daily at 03:00 Asia/Taipei\n`);
        } finally {
          await client.connection.close();
        }
      }),
    );

  schedule
    .command('describe')
    .description('the schedule: spec, paused or not, recent and next runs')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { json?: boolean }) =>
        withSchedule(async (handle) => {
          const d = await handle.describe();
          const out = {
            scheduleId: d.scheduleId,
            paused: d.state.paused,
            note: d.state.note ?? null,
            spec: d.spec,
            overlap: d.policies.overlap,
            recentActions: d.info.recentActions.map((a) => ({ at: a.takenAt, workflowId: a.action.workflow.workflowId })),
            nextActionTimes: d.info.nextActionTimes,
          };
          if (opts.json) return printJson(out);
          process.stdout.write(`${out.scheduleId}: ${out.paused ? `paused (${out.note ?? ''})` : 'active'}, overlap ${out.overlap}\n`);
          for (const a of out.recentActions) process.stdout.write(`  ran  ${a.at.toISOString()}  ${a.workflowId}\n`);
          for (const t of out.nextActionTimes) process.stdout.write(`  next ${t.toISOString()}\n`);
        }),
      ),
    );

  for (const [name, description] of [
    ['pause', 'pause the schedule (running cycles finish)'],
    ['resume', 'resume the schedule'],
    ['trigger', 'start a cycle now (skipped if one is running)'],
    ['delete', 'delete the schedule (and the daily consistency check\'s)'],
  ] as const) {
    schedule
      .command(name)
      .description(description)
      .option('--note <text>', 'why (pause/resume)')
      .action(
        action(async (opts: { note?: string }) =>
          withSchedule(async (handle, client) => {
            if (name === 'pause') await handle.pause(opts.note ?? 'paused from the CLI');
            else if (name === 'resume') await handle.unpause(opts.note ?? 'resumed from the CLI');
            else if (name === 'trigger') await handle.trigger();
            else {
              await handle.delete();
              await client.schedule.getHandle(CONSISTENCY_SCHEDULE_ID).delete().catch(() => {});
            }
            process.stdout.write(`schedule ${SCHEDULE_ID}: ${name} done\n`);
          }),
        ),
      );
  }
}
