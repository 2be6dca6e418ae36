import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TABLE_MAPPINGS, type LegacyTableName, type TableMapping } from '../convert/tables';
import { COLUMN_RULES, TABLE_RULES, type MergeRules } from '../reconcile/merge';
import { DIRECTIONS, type Direction } from '../shared';
import { ConfigError } from './env';

/**
 * The table configuration: which tables sync, in which directions, how changes are found,
 * how text is decoded and how conflicts are resolved. Validated once; SQL identifiers in
 * the sync come only from here and from the table mappings.
 */

const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lower-case SQL identifier');

export { DIRECTIONS, type Direction };

const tableSchema = z
  .object({
    legacyTable: identifier,
    newTable: identifier,
    directions: z.array(z.enum(DIRECTIONS)).min(1),
    changeDetection: z.enum(['timestamp', 'trigger']).default('timestamp'),
    batchSize: z.number().int().min(1).max(50_000).default(1000),
    backfillBatchSize: z.number().int().min(1).max(50_000).default(5000),
    lookbackSeconds: z.number().int().min(0).max(86_400).default(120),
    textColumns: z.record(identifier, z.enum(['auto', 'cp950', 'utf8'])).default({}),
    /** How a column both sides changed differently is resolved (manual: an operator decides). */
    conflictResolution: z.enum(TABLE_RULES).default('newest_wins'),
    /** Per new column, a rule that overrides the table's for that column. */
    mergeRules: z.record(identifier, z.enum(COLUMN_RULES)).default({}),
    /** newest_wins: which side wins when both changed in the same second. */
    tieBreaker: z.enum(['legacy', 'new']).default('legacy'),
    /** One side deleted a row the other changed: the deletion stands, the change stands, or an operator decides. */
    deleteConflict: z.enum(['delete_wins', 'update_wins', 'manual']).default('delete_wins'),
  })
  .strict();

const fileSchema = z.object({ tables: z.array(tableSchema).min(1) }).strict();

export type TableConfig = z.infer<typeof tableSchema> & { mapping: TableMapping; rules: MergeRules };

export interface SyncConfig {
  tables: TableConfig[];
}

function fail(where: string, message: string): never {
  throw new ConfigError(`table configuration ${where}: ${message}`);
}

export function parseSyncConfig(json: unknown, source = 'config'): SyncConfig {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    fail(source, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const seen = new Set<string>();
  const tables = parsed.data.tables.map((t, i) => {
    const where = `${source} tables[${i}] (${t.legacyTable})`;
    const mapping = TABLE_MAPPINGS[t.legacyTable as LegacyTableName];
    if (!mapping) fail(where, `unknown legacy table '${t.legacyTable}' (known: ${Object.keys(TABLE_MAPPINGS).join(', ')})`);
    if (mapping.newTable !== t.newTable) fail(where, `legacy table ${t.legacyTable} maps to ${mapping.newTable}, not '${t.newTable}'`);
    if (seen.has(t.legacyTable)) fail(where, 'listed twice');
    seen.add(t.legacyTable);
    const textCols = new Set(mapping.legacyColumns.filter((c) => c.kind === 'text').map((c) => c.name));
    for (const col of Object.keys(t.textColumns)) {
      if (!textCols.has(col)) fail(where, `textColumns names '${col}', which is not a text column of ${t.legacyTable} (${[...textCols].join(', ')})`);
    }
    for (const [col, rule] of Object.entries(t.mergeRules)) {
      if (!(col in mapping.newColumns)) fail(where, `mergeRules names '${col}', which is not a column of ${t.newTable}`);
      if (rule === 'delta' && mapping.newColumns[col] !== 'integer') fail(where, `mergeRules: delta needs a number column; ${col} is ${mapping.newColumns[col]}`);
    }
    if (t.directions.includes('new-to-legacy') && t.legacyTable !== 'deliveries') {
      fail(where, 'only deliveries can be written back to legacy (new-to-legacy)');
    }
    return { ...t, mapping, rules: { rule: t.conflictResolution, columns: t.mergeRules, tieBreaker: t.tieBreaker } };
  });
  // Parents must be configured too, or their children would wait for ever.
  for (const t of tables) {
    for (const p of t.mapping.parents) {
      if (p.required && !seen.has(p.legacyTable)) fail(`${source} (${t.legacyTable})`, `needs its parent table ${p.legacyTable} in the configuration`);
    }
  }
  return { tables };
}

export function loadSyncConfig(file: string): SyncConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the table configuration ${file}: ${(err as Error).message}`);
  }
  return parseSyncConfig(json, file);
}

export function tableConfig(config: SyncConfig, legacyTable: string): TableConfig {
  const t = config.tables.find((x) => x.legacyTable === legacyTable);
  if (!t) throw new ConfigError(`table '${legacyTable}' is not in the table configuration (configured: ${config.tables.map((x) => x.legacyTable).join(', ')})`);
  return t;
}

/** Tables in dependency order, grouped in levels that may run side by side. */
export function tableLevels(config: SyncConfig, only?: string[]): string[][] {
  const wanted = config.tables.filter((t) => !only || only.includes(t.legacyTable));
  const levels: string[][] = [];
  const done = new Set<string>();
  let left = wanted;
  while (left.length > 0) {
    const ready = left.filter((t) => t.mapping.parents.every((p) => done.has(p.legacyTable) || !wanted.some((w) => w.legacyTable === p.legacyTable)));
    levels.push(ready.map((t) => t.legacyTable));
    ready.forEach((t) => done.add(t.legacyTable));
    left = left.filter((t) => !done.has(t.legacyTable));
  }
  return levels;
}
