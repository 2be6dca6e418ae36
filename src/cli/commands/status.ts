import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { createPool } from '../../db/postgres';
import { action, printJson, printTable } from '../output';

export interface TableStatus {
  table: string;
  direction: string;
  watermark: string | null;
  lagSeconds: number | null;
  lastRun: string | null;
  lastOutcome: string | null;
  lastFinishedAt: string | null;
  rowsSynced: number;
  errors: number;
  conflicts: number;
  heldBack: number;
}

/** Per table and direction: where it stands, from the sync's tables in PostgreSQL. */
export async function tableStatus(databaseUrl: string, tables: { legacyTable: string; directions: string[] }[]): Promise<TableStatus[]> {
  const pool = createPool(databaseUrl, 2);
  try {
    const res = await pool.query(
      `WITH wanted AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(table_name text, direction text)),
       runs AS (SELECT table_name, direction, count(*) FILTER (WHERE status = 'failed')::int AS errors,
                       coalesce(sum(rows_written), 0)::int AS written, coalesce(sum(conflicts), 0)::int AS conflicts,
                       max(finished_at) FILTER (WHERE status = 'completed') AS last_ok
                FROM sync_runs WHERE kind IN ('table', 'backfill', 'retry') GROUP BY 1, 2),
       last AS (SELECT DISTINCT ON (table_name, direction) table_name, direction, id, status, finished_at
                FROM sync_runs WHERE kind IN ('table', 'backfill', 'retry') ORDER BY table_name, direction, started_at DESC),
       held AS (SELECT table_name, direction, count(*)::int AS n FROM sync_held_back WHERE resolved_at IS NULL GROUP BY 1, 2)
       SELECT w.table_name, w.direction, s.cursor_ts, s.cursor_id::text, s.mode,
              extract(epoch FROM now() - r.last_ok)::int AS lag, l.id AS last_run, l.status AS last_status, l.finished_at,
              coalesce(r.written, 0) AS written, coalesce(r.errors, 0) AS errors, coalesce(r.conflicts, 0) AS conflicts, coalesce(h.n, 0) AS held
       FROM wanted w
       LEFT JOIN sync_state s USING (table_name, direction)
       LEFT JOIN runs r USING (table_name, direction)
       LEFT JOIN last l USING (table_name, direction)
       LEFT JOIN held h USING (table_name, direction)`,
      [JSON.stringify(tables.flatMap((t) => t.directions.map((d) => ({ table_name: t.legacyTable, direction: d }))))],
    );
    return res.rows.map((r) => ({
      table: r.table_name,
      direction: r.direction,
      watermark: r.mode === 'timestamp' ? (r.cursor_ts ? `${r.cursor_ts} #${r.cursor_id}` : null) : r.cursor_id ? `queue #${r.cursor_id}` : null,
      lagSeconds: r.lag,
      lastRun: r.last_run,
      lastOutcome: r.last_status,
      lastFinishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
      rowsSynced: r.written,
      errors: r.errors,
      conflicts: r.conflicts,
      heldBack: r.held,
    }));
  } finally {
    await pool.end();
  }
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('per table: watermark, lag, last run and its outcome, rows synced, errors, conflicts, held back')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const env = loadEnv();
        const status = await tableStatus(env.DATABASE_URL, loadSyncConfig(env.SYNC_TABLES_CONFIG).tables);
        if (opts.json) return printJson(status);
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
            'held back': s.heldBack,
          })),
        );
      }),
    );
}
