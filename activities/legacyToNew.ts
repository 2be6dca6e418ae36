import { ApplicationFailure, Context } from '@temporalio/activity';
import { ClaimMissingError } from '../src/claims';
import { tableConfig, tableLevels, type Direction, type TableConfig } from '../src/config/tables';
import { LegacyFileError } from '../src/db/legacy';
import { inTransaction } from '../src/db/postgres';
import type { HeldRow } from '../src/mapping/convertRow';
import { advanceWatermark, type BatchResult } from '../src/sync/applyToNew';
import { heldForParents, legacyHasWork, outboxHasWork } from '../src/sync/probe';
import { idPageEnds, minusSeconds, newestCursor, readByIds, readIdRange, readQueuePage, readTimestampPage, type Cursor, type Page } from '../src/sync/legacyReader';
import { applyBatch, appliedBefore, convertBatch, type ConvertedBatch, type RawBatch } from '../src/sync/syncBatch';
import type { ActivityDeps } from './deps';

/**
 * Legacy → new. A cycle's batch is two retryable activities, fetch → apply: the fetched rows
 * wait in Redis (a claim) while the previous batch is applied, and never pass through the
 * workflow's history. A backfill page is one activity that reads, converts and applies, with
 * no hand-over at all. Only the apply writes, in one PostgreSQL transaction.
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
  /** Rows held back for a missing parent wait: the run retries them after its pages. */
  heldPending: boolean;
  /** Backfill: the newest legacy row when it began, the watermark it leaves when it completes. */
  watermark?: Cursor;
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

export interface CyclePlan {
  levels: string[][];
  /** By `${table} ${direction}`: the plan of a run to start, or the summary of one skipped. */
  runs: Record<string, { plan?: TableSyncPlan; skipped?: RunSummary }>;
}

export interface FetchResult {
  count: number;
  next: Cursor;
  done: boolean;
}

export interface ApplyInput {
  table: string;
  runId: string;
  batchKey: string;
  mode: 'timestamp' | 'trigger';
  /** The watermark to store with the batch; null for held-back retries. */
  cursor: Cursor | null;
}

export interface BackfillPageInput {
  table: string;
  runId: string;
  batchKey: string;
  /** The page's ids: (afterId, toId], toId null for the last page. */
  afterId: number;
  toId: number | null;
  pageSize: number;
}

export interface FinishInput {
  runId: string;
  status: 'completed' | 'failed';
  error?: string;
  /** Stored with a completed run (a backfill's watermark). */
  watermark?: { table: string; cursor: Cursor };
}

/** Where a table's run starts reading from its watermark: the lookback window before it, or the queue position. */
function readingStart(t: TableConfig, s: { cursor_ts: string | null; cursor_id: string }): Cursor {
  return t.changeDetection === 'timestamp' && s.cursor_ts
    ? // Re-read the lookback window: rows committed late with an older updated_at are seen.
      { ts: t.lookbackSeconds > 0 ? minusSeconds(s.cursor_ts, t.lookbackSeconds) : s.cursor_ts, id: t.lookbackSeconds > 0 ? 0 : Number(s.cursor_id) }
    : { ts: null, id: Number(s.cursor_id) };
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
  const log = (table: string, batchKey?: string) => deps.log.child({ table, batch: batchKey, runId: batchKey?.split('#')[0] });

  /** reconcile → apply of a converted batch under its key; rows held back by the conversion are logged with their reasons. */
  const applyRows = async (t: TableConfig, batch: ConvertedBatch, input: ApplyInput, reached?: Cursor): Promise<BatchResult> => {
    if (batch.held.length) log(input.table, input.batchKey).warn({ held: batch.held.map((h) => ({ id: h.legacyId, reason: h.reason })) }, 'rows held back');
    return applyBatch(deps.pool, t, batch, { runId: input.runId, batchKey: input.batchKey, direction: 'legacy-to-new', mode: input.mode, cursor: input.cursor, reached });
  };

  /** Records the run and says where reading starts: the watermark, less the lookback window. */
  async function begin(input: TableSyncStart): Promise<TableSyncPlan> {
    const t = cfg(input.table);
    await deps.pool.query(
      `INSERT INTO sync_runs (id, kind, table_name, direction, parent_id, workflow_id, status) VALUES ($1, $2, $3, $4, $5, $1, 'running') ON CONFLICT (id) DO NOTHING`,
      [input.workflowId, input.kind, input.table, input.direction, input.parentId ?? null],
    );
    const state = await deps.pool.query<{ cursor_ts: string | null; cursor_id: string; mode: string }>(
      `SELECT cursor_ts, cursor_id, mode FROM sync_state WHERE table_name = $1 AND direction = $2`,
      [input.table, input.direction],
    );
    const s = state.rows[0];
    let cursor: Cursor = { ts: t.changeDetection === 'timestamp' ? '' : null, id: 0 };
    if (input.kind === 'table' && s && s.mode === t.changeDetection) cursor = readingStart(t, s);
    if (input.kind === 'backfill') cursor = { ts: '', id: 0 };
    let watermark: Cursor | undefined;
    if (input.kind === 'backfill') {
      try {
        watermark = deps.legacy.read((db) => newestCursor(db, t.legacyTable));
      } catch (err) {
        nonRetryable(err);
      }
    }
    return {
      runId: input.workflowId,
      heldPending: input.kind === 'table' && input.direction === 'legacy-to-new' && (await heldForParents(deps.pool, input.table)),
      cursor,
      mode: input.kind === 'backfill' ? 'timestamp' : t.changeDetection,
      // A table's first sync reads as a backfill would: everything, in big pages.
      batchSize: s ? t.batchSize : t.backfillBatchSize,
      backfillBatchSize: t.backfillBatchSize,
      ...(watermark ? { watermark } : {}),
    };
  }

  /** Rows re-read when a table and direction have nothing new, or null when they have work. */
  async function idleRead(t: TableConfig, direction: Direction): Promise<number | null> {
    if (direction === 'new-to-legacy') return (await outboxHasWork(deps.pool)) ? null : 0;
    const state = await deps.pool.query<{ cursor_ts: string | null; cursor_id: string; mode: string }>(
      `SELECT cursor_ts, cursor_id, mode FROM sync_state WHERE table_name = $1 AND direction = $2`,
      [t.legacyTable, direction],
    );
    const s = state.rows[0];
    if (!s || s.mode !== t.changeDetection || (await heldForParents(deps.pool, t.legacyTable))) return null;
    const cursor = readingStart(t, s);
    try {
      const probe = await deps.legacy.read((db) => legacyHasWork(deps.pool, db, t.mapping, cursor, t.batchSize));
      return probe.work ? null : probe.read;
    } catch (err) {
      nonRetryable(err);
    }
  }

  async function recordSkipped(start: TableSyncStart, cycleId: string, read: number): Promise<RunSummary> {
    await deps.pool.query(
      `INSERT INTO sync_runs (id, kind, table_name, direction, parent_id, workflow_id, status, finished_at, rows_read, rows_unchanged, details)
       VALUES ($1, $2, $3, $4, $5, $5, 'completed', now(), $6, $6, '{"skipped": "nothing new at the source"}') ON CONFLICT (id) DO NOTHING`,
      [start.workflowId, start.kind, start.table, start.direction, cycleId, read],
    );
    return { runId: start.workflowId, table: start.table, direction: start.direction, status: 'completed', read, written: 0, unchanged: read, heldBack: 0, conflicts: 0, ms: 0 };
  }

  return {
    /**
     * The cycle's tables, parents before children, in levels that may run side by side; each
     * table and direction either begun (its run recorded, its plan made) or, when its source has
     * nothing new, recorded as a completed run that read what it re-read and changed nothing.
     */
    async planCycle(input: { tables?: string[]; cycleId: string }): Promise<CyclePlan> {
      for (const t of input.tables ?? []) cfg(t);
      const levels = tableLevels(deps.config, input.tables);
      const runs: CyclePlan['runs'] = {};
      for (const table of levels.flat()) {
        const t = cfg(table);
        for (const direction of t.directions) {
          const workflowId = `table-sync/${table}/${direction}/${input.cycleId}`;
          const start: TableSyncStart = { table, direction, workflowId, parentId: input.cycleId, kind: 'table' };
          const idle = await idleRead(t, direction);
          runs[`${table} ${direction}`] = idle === null ? { plan: await begin(start) } : { skipped: await recordSkipped(start, input.cycleId, idle) };
        }
      }
      return { levels, runs };
    },

    /** Records the run and says where reading starts: the watermark, less the lookback window. */
    beginTableSync: begin,

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
      await deps.claims.put(`${input.batchKey}:raw`, { rows: page.rows, deleted: page.deleted } satisfies RawBatch);
      Context.current().heartbeat();
      log(input.table, input.batchKey).debug({ rows: page.rows.length, deleted: page.deleted.length }, 'fetched');
      return { count: page.rows.length + page.deleted.length, next: page.next, done: page.done };
    },

    /** convert → reconcile → apply of a fetched batch, in one PostgreSQL transaction. */
    async applyBatch(input: ApplyInput): Promise<BatchResult> {
      const t = cfg(input.table);
      // A batch committed before its claim vanished is a replay: answer with its first result.
      let result = await appliedBefore(deps.pool, input.batchKey);
      if (!result) {
        const batch = convertBatch(t, deps.eudc, await deps.claims.get<RawBatch>(`${input.batchKey}:raw`).catch(nonRetryable));
        result = await applyRows(t, batch, input);
      }
      await deps.claims.drop(`${input.batchKey}:raw`).catch(() => {});
      log(input.table, input.batchKey).info({ ...result, cursor: undefined }, 'batch applied');
      return result;
    },

    /** Where the next backfill pages end (see idPageEnds). */
    async backfillPageEnds(input: { table: string; afterId: number; pageSize: number; pages: number }): Promise<(number | null)[]> {
      const t = cfg(input.table);
      try {
        return deps.legacy.read((db) => idPageEnds(db, t.legacyTable, input.afterId, input.pageSize, input.pages));
      } catch (err) {
        nonRetryable(err);
      }
    },

    /** One backfill page, read → convert → reconcile → apply; the watermark is left to the run's end. */
    async backfillPage(input: BackfillPageInput): Promise<BatchResult & { lastId: number }> {
      const t = cfg(input.table);
      const prior = await appliedBefore(deps.pool, input.batchKey);
      if (prior) return { ...prior, lastId: prior.cursor.id };
      let batch: ConvertedBatch;
      let lastId: number;
      try {
        // Converted inside the read: the raw rows are not kept while the page is applied.
        batch = deps.legacy.read((db) => {
          const rows = readIdRange(db, t.mapping, input.afterId, input.toId, input.pageSize);
          lastId = rows.at(-1)?.id ?? input.toId ?? input.afterId;
          return convertBatch(t, deps.eudc, { rows, deleted: [] });
        });
      } catch (err) {
        nonRetryable(err);
      }
      Context.current().heartbeat();
      // The page's last id is kept in the batch's result (its cursor), so a replay knows where the page ended.
      const result = await applyRows(t, batch, { ...input, mode: 'timestamp', cursor: null }, { ts: null, id: lastId! });
      log(input.table, input.batchKey).debug({ ...result, cursor: undefined }, 'backfill page applied');
      return { ...result, lastId: lastId! };
    },

    async finishTableSync(input: FinishInput): Promise<RunSummary> {
      const wm = input.status === 'completed' ? input.watermark : undefined;
      if (wm) await inTransaction(deps.pool, (client) => advanceWatermark(client, wm.table, 'legacy-to-new', 'timestamp', wm.cursor));
      const res = await deps.pool.query<RunSummary>(
        `UPDATE sync_runs SET status = $2, error = $3, finished_at = now() WHERE id = $1
         RETURNING id AS "runId", COALESCE(table_name, '') AS table, COALESCE(direction, '') AS direction, status, rows_read AS read,
           rows_written AS written, rows_unchanged AS unchanged, rows_held_back AS "heldBack", conflicts,
           (extract(epoch FROM finished_at - started_at) * 1000)::int AS ms`,
        [input.runId, input.status, input.error ?? null],
      );
      if (!res.rows[0]) throw ApplicationFailure.nonRetryable(`run ${input.runId} is not recorded in sync_runs`, 'RunMissing');
      return res.rows[0];
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
