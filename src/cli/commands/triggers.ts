import type { Command } from 'commander';
import { ConfigError, loadEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { openLegacy } from '../../db/legacy';
import { installedTriggers, installTriggers, removeTriggers } from '../../sync/legacyTriggers';
import { action } from '../output';

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
    .description('create sync_queue and INSERT/UPDATE/DELETE triggers in the legacy file (idempotent)')
    .option('-t, --table <table...>', 'only these tables')
    .action(
      action((opts: { table?: string[] }) => {
        const { env, tables } = tablesOf(opts.table);
        const db = openLegacy(env.LEGACY_DB_PATH, { readonly: false });
        try {
          installTriggers(db, tables);
          process.stdout.write(`installed: ${installedTriggers(db).join(', ')}\n`);
        } finally {
          db.close();
        }
      }),
    );

  triggers
    .command('remove')
    .description('drop the triggers (and with --drop-queue the sync_queue table)')
    .option('-t, --table <table...>', 'only these tables')
    .option('--drop-queue', 'also drop sync_queue')
    .action(
      action((opts: { table?: string[]; dropQueue?: boolean }) => {
        const { env, tables } = tablesOf(opts.table);
        const db = openLegacy(env.LEGACY_DB_PATH, { readonly: false });
        try {
          removeTriggers(db, tables, { dropQueue: opts.dropQueue });
          const left = installedTriggers(db);
          process.stdout.write(left.length ? `still installed: ${left.join(', ')}\n` : 'no sync triggers left\n');
        } finally {
          db.close();
        }
      }),
    );
}
