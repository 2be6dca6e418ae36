import { ApplicationFailure, Context } from '@temporalio/activity';
import type { TextEncodingMode } from '../src/encoding/cp950';
import { ClaimMissingError } from '../src/claims';
import { tableConfig, tableLevels, type Direction, type TableConfig } from '../src/config/tables';
import { LegacyFileError } from '../src/db/legacy';
import { inTransaction } from '../src/db/postgres';
import { convertRow, type ConvertedRow, type HeldRow, type RawRow } from '../src/mapping/convertRow';
import { applyToNew, type BatchPlan, type BatchResult } from '../src/sync/applyToNew';
import { minusSeconds, readByIds, readQueuePage, readTimestampPage, type Cursor, type Page } from '../src/sync/legacyReader';
import { reconcile } from '../src/sync/reconcile';
import type { ActivityDeps } from './deps';

/**
 * Legacy → new, one batch at a time: fetch → convert → reconcile → upsert. Each step is its
 * own retryable activity; rows pass between them through Redis claims, never through the
 * workflow's history. Only the upsert writes, in one PostgreSQL transaction.
 */

export type BatchSource = 'page' | 'held';

export interface TableSyncStart {
  table: string;
  direction: Direction;
  workflowId: string;
  parentId?: string;
  kind: 'table' | 'backfill' | 'retry';
}

export interface TableSyncPlan {
  runId: string;
  cursor: Cursor;
  mode: 'timestamp' | 'trigger';
  batchSize: number;
  /** Backfills read bigger pages: fewer round trips for the same rows. */
  backfillBatchSize: number;
}

export interface FetchInput {
  table: string;
  batchKey: string;
  cursor: Cursor;
  source: BatchSource;
  batchSize: number;
  /** Held-back retries: every reason, or only rows waiting for a parent. */
  heldKinds?: HeldRow['reasonKind'][];
}

export interface FetchResult {
  count: number;
  next: Cursor;
  done: boolean;
}

export interface UpsertInput {
  table: string;
  runId: string;
  batchKey: string;
  mode: 'timestamp' | 'trigger';
  /** The watermark to store with the batch; null for held-back retries. */
  cursor: Cursor | null;
}

interface RawClaim {
  rows: RawRow[];
  deleted: number[];
}
interface ConvertedClaim {
  converted: ConvertedRow[];
  held: HeldRow[];
  deleted: number[];
}

/** Failures no retry can fix are raised as non-retryable, with a message a person can act on. */
function nonRetryable(err: unknown): never {
  if (err instanceof LegacyFileError) throw ApplicationFailure.nonRetryable(err.message, 'LegacyFileError');
  if (err instanceof ClaimMissingError) throw ApplicationFailure.nonRetryable(err.message, 'ClaimMissing');
  throw err;
}

export function createLegacyToNewActivities(deps: ActivityDeps) {
  const cfg = (table: string): TableConfig => {
    try {
      return tableConfig(deps.config, table);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'ConfigError');
    }
  };
  const encodings = (t: TableConfig): Record<string, TextEncodingMode> => t.textColumns;
  const log = (table: string, batchKey?: string) => deps.log.child({ table, batch: batchKey, runId: batchKey?.split('#')[0] });

  return {
    /** The cycle's tables, parents before children, in levels that may run side by side. */
    async planCycle(input: { tables?: string[] }): Promise<{ levels: string[][]; directions: Record<string, Direction[]> }> {
      for (const t of input.tables ?? []) cfg(t);
      const levels = tableLevels(deps.config, input.tables);
      const directions = Object.fromEntries(deps.config.tables.map((t) => [t.legacyTable, t.directions]));
      return { levels, directions };
    },

    /** Records the run and says where reading starts: the watermark, less the lookback window. */
    async beginTableSync(input: TableSyncStart): Promise<TableSyncPlan> {
      const t = cfg(input.table);
      await deps.prisma.syncRun.upsert({
        where: { id: input.workflowId },
        create: { id: input.workflowId, kind: input.kind, tableName: input.table, direction: input.direction, parentId: input.parentId ?? null, workflowId: input.workflowId, status: 'running' },
        update: {},
      });
      const state = await deps.pool.query<{ cursor_ts: string | null; cursor_id: string; mode: string }>(
        `SELECT cursor_ts, cursor_id, mode FROM sync_state WHERE table_name = $1 AND direction = $2`,
        [input.table, input.direction],
      );
      const s = state.rows[0];
      let cursor: Cursor = { ts: t.changeDetection === 'timestamp' ? '' : null, id: 0 };
      if (input.kind === 'table' && s && s.mode === t.changeDetection) {
        cursor =
          t.changeDetection === 'timestamp' && s.cursor_ts
            ? // Re-read the lookback window: rows committed late with an older updated_at are seen.
              { ts: t.lookbackSeconds > 0 ? minusSeconds(s.cursor_ts, t.lookbackSeconds) : s.cursor_ts, id: t.lookbackSeconds > 0 ? 0 : Number(s.cursor_id) }
            : { ts: null, id: Number(s.cursor_id) };
      }
      if (input.kind === 'backfill') cursor = { ts: '', id: 0 };
      return {
        runId: input.workflowId,
        cursor,
        mode: input.kind === 'backfill' ? 'timestamp' : t.changeDetection,
        // A table's first sync reads as a backfill would: everything, in big pages.
        batchSize: s ? t.batchSize : t.backfillBatchSize,
        backfillBatchSize: t.backfillBatchSize,
      };
    },

    async fetchBatch(input: FetchInput): Promise<FetchResult> {
      const t = cfg(input.table);
      let page: Page;
      try {
        if (input.source === 'held') {
          const held = await deps.pool.query<{ row_id: string }>(
            `SELECT row_id FROM sync_held_back WHERE table_name = $1 AND direction = 'legacy-to-new' AND resolved_at IS NULL
               AND row_id > $2 AND ($3::text[] IS NULL OR reason_kind = ANY($3::text[])) ORDER BY row_id LIMIT $4`,
            [input.table, input.cursor.id, input.heldKinds ?? null, input.batchSize],
          );
          const ids = held.rows.map((r) => Number(r.row_id));
          const rows = deps.legacy.read((db) => readByIds(db, t.mapping, ids));
          const found = new Set(rows.map((r) => r.id));
          page = { rows, deleted: ids.filter((id) => !found.has(id)), next: { ts: null, id: ids.at(-1) ?? input.cursor.id }, done: ids.length < input.batchSize };
        } else {
          page = deps.legacy.read((db) =>
            input.cursor.ts === null ? readQueuePage(db, t.mapping, input.cursor, input.batchSize) : readTimestampPage(db, t.mapping, input.cursor, input.batchSize),
          );
        }
      } catch (err) {
        nonRetryable(err);
      }
      await deps.claims.put(`${input.batchKey}:raw`, { rows: page.rows, deleted: page.deleted } satisfies RawClaim);
      Context.current().heartbeat();
      log(input.table, input.batchKey).debug({ rows: page.rows.length, deleted: page.deleted.length }, 'fetched');
      return { count: page.rows.length + page.deleted.length, next: page.next, done: page.done };
    },

    async convertBatch(input: { table: string; batchKey: string }): Promise<{ converted: number; held: number }> {
      const t = cfg(input.table);
      const raw = await deps.claims.get<RawClaim>(`${input.batchKey}:raw`).catch(nonRetryable);
      const converted: ConvertedRow[] = [];
      const held: HeldRow[] = [];
      for (const row of raw.rows) {
        const r = convertRow(row, t.mapping, encodings(t), deps.eudc);
        if (r.ok) converted.push(r.row);
        else held.push(r.held);
      }
      await deps.claims.put(`${input.batchKey}:converted`, { converted, held, deleted: raw.deleted } satisfies ConvertedClaim);
      if (held.length) log(input.table, input.batchKey).warn({ held: held.map((h) => ({ id: h.legacyId, reason: h.reason })) }, 'rows held back');
      return { converted: converted.length, held: held.length };
    },

    async reconcileBatch(input: { table: string; batchKey: string }): Promise<{ upserts: number; unchanged: number; held: number; conflicts: number }> {
      const t = cfg(input.table);
      const c = await deps.claims.get<ConvertedClaim>(`${input.batchKey}:converted`).catch(nonRetryable);
      const plan = await reconcile(deps.pool, t, c.converted, c.held, c.deleted);
      await deps.claims.put(`${input.batchKey}:plan`, plan);
      return { upserts: plan.upserts.length, unchanged: plan.unchanged.length, held: plan.held.length, conflicts: plan.conflicts.length };
    },

    async upsertBatch(input: UpsertInput): Promise<BatchResult> {
      const t = cfg(input.table);
      // A batch committed before its claim vanished is a replay: answer with its first result.
      const prior = await deps.pool.query<{ result: BatchResult }>(`SELECT result FROM sync_batches WHERE batch_key = $1`, [input.batchKey]);
      let result: BatchResult;
      if (prior.rows[0]) {
        result = { ...prior.rows[0].result, replayed: true };
      } else {
        const plan = await deps.claims.get<BatchPlan>(`${input.batchKey}:plan`).catch(nonRetryable);
        result = await inTransaction(deps.pool, (client) =>
          applyToNew(client, t.mapping, plan, { runId: input.runId, batchKey: input.batchKey, direction: 'legacy-to-new', mode: input.mode, cursor: input.cursor }),
        );
      }
      await deps.claims.drop(`${input.batchKey}:raw`, `${input.batchKey}:converted`, `${input.batchKey}:plan`).catch(() => {});
      log(input.table, input.batchKey).info({ ...result, cursor: undefined }, 'batch applied');
      return result;
    },

    async finishTableSync(input: { runId: string; status: 'completed' | 'failed'; error?: string }): Promise<RunSummary> {
      const run = await deps.prisma.syncRun.update({
        where: { id: input.runId },
        data: { status: input.status, error: input.error ?? null, finishedAt: new Date() },
      });
      return {
        runId: run.id,
        table: run.tableName ?? '',
        direction: run.direction ?? '',
        status: run.status,
        read: run.rowsRead,
        written: run.rowsWritten,
        unchanged: run.rowsUnchanged,
        heldBack: run.rowsHeldBack,
        conflicts: run.conflicts,
        ms: run.finishedAt!.getTime() - run.startedAt.getTime(),
      };
    },
  };
}

export interface RunSummary {
  runId: string;
  table: string;
  direction: string;
  status: string;
  read: number;
  written: number;
  unchanged: number;
  heldBack: number;
  conflicts: number;
  ms: number;
}
