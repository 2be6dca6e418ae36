import type { Command } from 'commander';
import { ConfigError, loadEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { ids } from '../../shared';
import { LegacyTriggersWorkflow } from '../../../workflows';
import { runOneWorkflow } from '../oneOffWorkflow';
import { action } from '../output';

/** Trigger-based change capture, installed in the legacy file by the legacy agent (the only process that opens it). */
export function registerTriggerCommands(program: Command): void {
  const triggers = program
    .command('triggers')
    .description('trigger-based change capture in the legacy file (sync_queue); set "changeDetection": "trigger" in the table configuration to use it');

  const tablesOf = (only?: string[]) => {
    const env = loadEnv();
    const all = loadSyncConfig(env.SYNC_TABLES_CONFIG).tables.map((t) => t.legacyTable);
    for (const t of only ?? []) if (!all.includes(t)) throw new ConfigError(`table '${t}' is not in the table configuration (${all.join(', ')})`);
    return { env, tables: only ?? all };
  };

  triggers
    .command('install')
    .description('create sync_queue and INSERT/UPDATE/DELETE triggers in the legacy file (idempotent); tables in trigger mode then catch up by themselves')
    .option('-t, --table <table...>', 'only these tables')
    .action(
      action(async (opts: { table?: string[] }) => {
        const { env, tables } = tablesOf(opts.table);
        const installed = await runOneWorkflow('trigger install', env, LegacyTriggersWorkflow, {
          workflowId: ids.legacyFile('install-triggers', new Date().toISOString()),
          args: [{ action: 'install', tables }],
          summary: `install legacy triggers: ${tables.join(', ')}`,
        });
        process.stdout.write(`installed: ${installed.join(', ')}\n`);
      }),
    );

  triggers
    .command('remove')
    .description('drop the triggers (and with --drop-queue the sync_queue table)')
    .option('-t, --table <table...>', 'only these tables')
    .option('--drop-queue', 'also drop sync_queue')
    .action(
      action(async (opts: { table?: string[]; dropQueue?: boolean }) => {
        const { env, tables } = tablesOf(opts.table);
        const left = await runOneWorkflow('trigger removal', env, LegacyTriggersWorkflow, {
          workflowId: ids.legacyFile('remove-triggers', new Date().toISOString()),
          args: [{ action: 'remove', tables, dropQueue: opts.dropQueue === true }],
          summary: `remove legacy triggers: ${tables.join(', ')}`,
        });
        process.stdout.write(left.length ? `still installed: ${left.join(', ')}\n` : 'no sync triggers left\n');
      }),
    );
}
