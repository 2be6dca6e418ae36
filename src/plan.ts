import { minusSeconds } from './capture/legacyReader';
import type { TableConfig } from './config/tables';
import type { Queryable } from './db/postgres';
import type { Cursor, FetchResult, RowQueue, TableSyncPlan, TableSyncStart } from './shared';
import { hasQueued, type QueueName } from './state/rowQueue';
import { beginRun } from './state/runs';
import { readWatermark, type Watermark } from './state/watermarks';

/**
 * Where a table run reads, decided from its watermark when it begins:
 * - the table's pages from the watermark, less the lookback window (timestamp mode), or from
 *   the queue position (trigger mode);
 * - a table never synced, or a backfill: the whole table by id ranges, several pages side by
 *   side, then the watermark noted when it began;
 * - trigger mode without a consistent starting point (triggers installed on an existing file,
 *   or a table moving from timestamp mode): read the table (from its timestamp watermark, or
 *   all of it), then follow the queue from its beginning (everything since the triggers were
 *   installed: deletions too, which no read of the table sees). Changes read twice are
 *   skipped by their content hash.
 * - then the rows queued by id (waiting for a parent, or to be repaired);
 * - retries and repairs read only their queue.
 */

/** What the legacy agent reports of a table before a run that needs it. */
export interface TableEdges {
  rows: number;
  /** The newest (updated_at, id): where incremental reading goes on after a load. */
  newest: Cursor;
  /** The last sync_queue id, or null when the file has no sync_queue (triggers not installed). */
  queuePosition: number | null;
}

/** A table run's reading, decided before the legacy agent is asked anything. */
export interface RunDraft {
  start: TableSyncStart;
  mode: 'timestamp' | 'trigger';
  cursor: Cursor;
  batchSize: number;
  load: boolean;
  catchup: boolean;
  /** Rows queued by id that this run drains. */
  queues: RowQueue[];
}

/** Where a table's run starts reading from its watermark: the lookback window before it, or the queue position. */
export function readingStart(t: TableConfig, w: Watermark): Cursor {
  if (w.mode === 'trigger') return { ts: null, id: w.cursor.id };
  const ts = w.cursor.ts ?? '';
  // Re-read the lookback window: rows committed late with an older updated_at are seen.
  return t.lookbackSeconds > 0 && ts !== '' ? { ts: minusSeconds(ts, t.lookbackSeconds), id: 0 } : { ts, id: w.cursor.id };
}

/** The row queues a cycle's run drains after its pages, in this order. */
const QUEUES: QueueName[] = ['parent', 'repair'];

export async function draftRun(db: Queryable, t: TableConfig, start: TableSyncStart): Promise<RunDraft> {
  const fromStart: Cursor = { ts: '', id: 0 };
  if (start.direction === 'new-to-legacy') return { start, mode: 'timestamp', cursor: fromStart, batchSize: t.batchSize, load: false, catchup: false, queues: [] };
  if (start.queues) return { start, mode: 'timestamp', cursor: { ts: null, id: 0 }, batchSize: t.batchSize, load: false, catchup: false, queues: start.queues };
  if (start.kind === 'backfill') return { start, mode: 'timestamp', cursor: fromStart, batchSize: t.backfillBatchSize, load: true, catchup: false, queues: [] };
  const [w, ...queued] = await Promise.all([readWatermark(db, t.legacyTable, start.direction), ...QUEUES.map((q) => hasQueued(db, t.legacyTable, q))]);
  const queues = QUEUES.filter((_, i) => queued[i]);
  if (!w) {
    // Never synced: the whole table, the fast way.
    return { start, mode: 'timestamp', cursor: fromStart, batchSize: t.backfillBatchSize, load: true, catchup: t.changeDetection === 'trigger', queues };
  }
  if (t.changeDetection === 'trigger' && w.mode !== 'trigger') {
    return { start, mode: 'timestamp', cursor: readingStart(t, w), batchSize: t.batchSize, load: false, catchup: true, queues };
  }
  if (t.changeDetection === 'timestamp' && w.mode === 'trigger') {
    // Back from trigger mode: the timestamp watermark is unknown, so the whole table is read.
    return { start, mode: 'timestamp', cursor: fromStart, batchSize: t.backfillBatchSize, load: true, catchup: false, queues };
  }
  return { start, mode: t.changeDetection, cursor: readingStart(t, w), batchSize: t.batchSize, load: false, catchup: false, queues };
}

/** Records the run and fixes its plan. */
export async function beginDraft(db: Queryable, t: TableConfig, draft: RunDraft, edges: TableEdges | null, first: FetchResult | null): Promise<TableSyncPlan> {
  const { start } = draft;
  if (draft.catchup && (!edges || edges.queuePosition === null)) {
    throw new TriggersMissingError(`${t.legacyTable} is configured for trigger mode, but the legacy file has no sync_queue: run \`luckygas-sync triggers install\``);
  }
  await beginRun(db, { id: start.workflowId, kind: start.kind, table: start.table, direction: start.direction, parentId: start.parentId });
  return {
    runId: start.workflowId,
    table: start.table,
    direction: start.direction,
    kind: start.kind,
    mode: draft.mode,
    cursor: draft.cursor,
    batchSize: draft.batchSize,
    // After a load, incremental reading goes on from the newest row noted before it (timestamp mode; trigger mode follows its queue).
    load: draft.load
      ? { pageSize: t.backfillBatchSize, watermark: t.changeDetection === 'timestamp' && edges ? edges.newest : null, rows: edges?.rows ?? 0, empty: await isEmpty(db, t.newTable) }
      : null,
    catchup: draft.catchup,
    // A load in a catch-up read the whole table: the queue takes over at once.
    pages: !start.queues && start.kind !== 'backfill' && !(draft.load && draft.catchup),
    queues: draft.queues,
    first,
  };
}

/** Whether a new table has no row at all (a load into it can be one COPY, see src/apply/bulkLoad.ts). */
async function isEmpty(db: Queryable, table: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM ${table} LIMIT 1`)).rowCount === 0;
}

export class TriggersMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TriggersMissing';
  }
}
