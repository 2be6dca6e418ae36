/**
 * What workflows, activities and the CLI agree on: workflow inputs and results, workflow ids,
 * and the names of queues and headers. Types and plain values only: it is bundled into workflows,
 * and the load's page threads and the CLI load it too, so it imports nothing at run time (the
 * workflows' queries and updates are in src/messages.ts).
 */

// ─────────────────────────────── tables and positions ───────────────────────────────

export const DIRECTIONS = ['legacy-to-new', 'new-to-legacy'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Where reading a legacy table has got to: (updated_at, id) in timestamp mode, (null, queue id) in trigger mode. */
export interface Cursor {
  ts: string | null;
  id: number;
}

/** The header that carries a run's target from the client to every activity and child of it. */
export const TARGET_HEADER = 'luckygas-target';
/** The header that names the legacy agent's task queue, when not the one beside the sync task queue. */
export const LEGACY_QUEUE_HEADER = 'luckygas-legacy-queue';
export const DEFAULT_LEGACY_QUEUE = 'luckygas-legacy';

/**
 * The legacy agent's task queue beside a sync task queue: luckygas-legacy beside the default
 * luckygas-sync, else the sync queue's name with -legacy; installs on other task queues never
 * share an agent, and a run started without headers (the temporal CLI) still finds its agent.
 */
export const legacyQueueBeside = (taskQueue: string): string => (taskQueue === 'luckygas-sync' ? DEFAULT_LEGACY_QUEUE : `${taskQueue}-legacy`);

/** Which worker a run was started for; activities refuse work meant for another. */
export interface Target {
  /** host:port/database of DATABASE_URL. */
  database?: string;
  /** LEGACY_DB_PATH as the legacy agent knows it, made absolute. */
  legacy?: string;
}

// ─────────────────────────────── runs ───────────────────────────────

export type RunKind = 'table' | 'backfill' | 'retry' | 'repair' | 'check' | 'rollback' | 'resolution';
export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'skipped';

/** A table run's outcome, as `sync-once` prints it and the cycle returns it. */
export interface RunSummary {
  runId: string;
  table: string;
  direction: string;
  status: RunStatus;
  read: number;
  written: number;
  unchanged: number;
  heldBack: number;
  conflicts: number;
  ms: number;
  /** Why a run failed or was skipped. */
  reason?: string;
}

/** What a batch did; a replay (the same batch key applied again) returns the first result. */
export interface BatchResult {
  read: number;
  written: number;
  deleted: number;
  unchanged: number;
  heldBack: number;
  conflicts: number;
  /** Rows waiting for a parent, queued. */
  waiting: number;
  cursor: Cursor;
  replayed: boolean;
  /** Manual conflicts this batch opened: one review workflow each. */
  reviews: ReviewStart[];
}

export interface ReviewStart {
  conflictId: number;
  table: string;
  legacyId: number | null;
}

export interface Progress {
  batches: number;
  read: number;
  written: number;
  unchanged: number;
  heldBack: number;
  conflicts: number;
  deleted: number;
}

export const emptyProgress = (): Progress => ({ batches: 0, read: 0, written: 0, unchanged: 0, heldBack: 0, conflicts: 0, deleted: 0 });

// ─────────────────────────────── table sync ───────────────────────────────

/** Where a table run reads: pages of the table (timestamp, queue or id ranges), or rows by id from one of the row queues. */
export type RowQueue = 'parent' | 'repair' | 'held';

export interface FetchResult {
  count: number;
  next: Cursor;
  done: boolean;
}

/** A table run as planned when it begins: its recorded run and where it reads. */
export interface TableSyncPlan {
  runId: string;
  table: string;
  direction: Direction;
  kind: RunKind;
  mode: 'timestamp' | 'trigger';
  cursor: Cursor;
  batchSize: number;
  /**
   * The table is read by id ranges, several pages side by side (a backfill, or the first
   * sync of a table); then the watermark moves to `loadWatermark`, noted when the run began.
   */
  load: {
    pageSize: number;
    watermark: Cursor | null;
    rows: number;
    /** The new table was empty when the run began: it is loaded in one transaction (src/apply/bulkLoad.ts). Absent in plans made before there was such a load. */
    empty?: boolean;
  } | null;
  /** Trigger mode catching up: once the table is read, its queue is followed. */
  catchup: boolean;
  /** The table's pages are read (not for retries and repairs, which read their queue, nor for a backfill, which loads). */
  pages: boolean;
  /** Row queues to drain after the pages, in this order. */
  queues: RowQueue[];
  /** The first page, already read into a claim when the cycle probed the table. */
  first: FetchResult | null;
}

export interface TableSyncInput {
  plan: TableSyncPlan;
  parentId?: string;
  /** Carried over continue-as-new. */
  resume?: TableSyncState;
}

export interface TableSyncState {
  phase: 'load' | 'pages' | RowQueue | 'done';
  cursor: Cursor;
  /** Load phase: ids applied up to here. */
  afterId: number;
  progress: Progress;
}

export interface TableSyncStart {
  table: string;
  direction: Direction;
  kind: RunKind;
  workflowId: string;
  parentId?: string;
  /** Only these row queues (retry: held; repair: repair), instead of the table's pages. */
  queues?: RowQueue[];
}

export interface SyncCycleInput {
  tables?: string[];
}

export interface CycleSummary {
  cycleId: string;
  tables: RunSummary[];
}

export interface BackfillInput {
  table: string;
}

export interface WriteBackInput {
  plan: TableSyncPlan;
  parentId?: string;
}


// ─────────────────────────────── consistency check ───────────────────────────────

export interface ConsistencyCheckInput {
  tables?: string[];
  repair?: boolean;
  /** Legacy rows per chunk (default 5000). */
  chunkSize?: number;
  /** Carried over continue-as-new. */
  resume?: CheckState;
}

export interface MissingInNewSample {
  legacyId: number;
  note?: string;
}
export interface MissingInLegacySample {
  legacyId: number;
  newId: number;
}
export interface DifferingSample {
  legacyId: number;
  newId: number | null;
  fields: string[];
  /** A legacy row the contract's rules refuse, and that is not recorded as held back. */
  reason?: string;
  note?: string;
}
export interface HeldBackSample {
  legacyId: number;
  reasonKind: string;
  reason: string;
}
export interface NotRepairedSample {
  legacyId: number;
  newId: number | null;
  reason: string;
}

export interface ChunkReport {
  legacyRows: number;
  newRows: number;
  matching: number;
  missingInNew: number;
  missingInLegacy: number;
  differing: number;
  heldBack: number;
  /** Rows waiting for their parent (the parent queue): reported, not differences. */
  waiting: number;
  /** PostgreSQL rows marked deleted whose legacy row is gone: as it should be. */
  deletedInBoth: number;
  /** Per field, how many differing rows differ in it. */
  fields: Record<string, number>;
  samples: {
    missingInNew: MissingInNewSample[];
    missingInLegacy: MissingInLegacySample[];
    differing: DifferingSample[];
    heldBack: HeldBackSample[];
  };
  /** Repair: legacy ids queued for the normal pipeline. */
  repairQueued: number;
  /** Repair: differences left alone, with why (e.g. an order waiting to be written back). */
  notRepaired: number;
  notRepairedSample: NotRepairedSample[];
}

/** At most this many keys of each kind in a check's report: a chunk's, and a table's over its chunks. */
export const CHECK_SAMPLE = 20;
/** Rows a check compares per chunk, unless told otherwise. */
export const CHECK_CHUNK_SIZE = 5000;

/** A chunk's report before any row is compared. */
export const emptyChunkReport = (): ChunkReport => ({
  legacyRows: 0,
  newRows: 0,
  matching: 0,
  missingInNew: 0,
  missingInLegacy: 0,
  differing: 0,
  heldBack: 0,
  waiting: 0,
  deletedInBoth: 0,
  fields: {},
  samples: { missingInNew: [], missingInLegacy: [], differing: [], heldBack: [] },
  repairQueued: 0,
  notRepaired: 0,
  notRepairedSample: [],
});

export interface ChunkResult extends ChunkReport {
  nextAfterId: number | null;
  done: boolean;
}

export interface TableCounts {
  legacy: number;
  newLive: number;
  newDeleted: number;
  newUnlinked: number;
  difference: number;
  tolerance: number;
  level: 'ok' | 'warning';
}

export interface TableReport extends Omit<ChunkReport, 'repairQueued' | 'notRepaired' | 'notRepairedSample'> {
  table: string;
  newTable: string;
  counts: TableCounts;
  differences: number;
  chunks: number;
  repair?: { queued: number; notRepaired: number; notRepairedSample: NotRepairedSample[] };
}

export interface CheckReport {
  differences: number;
  countWarnings: string[];
  tables: TableReport[];
}

export interface ConsistencyResult extends CheckReport {
  checkId: string;
  status: 'clean' | 'differences';
  repair: boolean;
  startedAt: string;
  finishedAt: string;
  beforeRepair?: CheckReport;
  repairRuns?: RunSummary[];
}

export interface CheckState {
  phase: 'check' | 'recheck';
  tables: string[];
  newTables: Record<string, string>;
  chunkSize: number;
  startedAt: string;
  tableIndex: number;
  afterId: number | null;
  current: TableReport | null;
  done: TableReport[];
  beforeRepair?: CheckReport;
  repairRuns?: RunSummary[];
}


// ─────────────────────────────── rollback ───────────────────────────────

export interface RollbackRequest {
  runId?: string;
  since?: string;
  tables?: string[];
  dryRun?: boolean;
  force?: boolean;
  resumeSchedule?: boolean;
}

export interface RollbackSelection {
  /** Run mode: the run and every run under it. */
  runIds: string[] | null;
  /** Since mode: journal entries created at or after this instant, rollbacks' own entries aside. */
  since: string | null;
  /** Journal table names (legacy and new names of the tables asked for), or every table. */
  tables: string[] | null;
  /** Entries after this id (written while the rollback runs, its own included) are not part of it. */
  maxJournalId: number;
}

export interface RollbackConflict {
  side: 'new' | 'legacy';
  table: string;
  rowId: number;
  legacyId?: number | null;
  reason: string;
}

export interface RollbackPageResult {
  rows: number;
  restored: number;
  alreadyRestored: number;
  conflicts: number;
  conflictSample: RollbackConflict[];
  restoredBySide: { new: number; legacy: number };
  /** Orders whose write-back was undone, queued to be written back again. */
  requeuedOrders: number;
  /** Legacy rows to read again (their new rows were restored), per legacy table. */
  reread: Record<string, number>;
  /** Conflict reviews opened again (their resolution was undone). */
  reopened: number;
  /** Legacy restores waiting for the legacy agent (a claim), or null. */
  legacyBatch: string | null;
  before: RollbackPosition | null;
  done: boolean;
}

/** Where a rollback has got to: the last group's latest journal entry, and its row (a load's entry covers many). */
export interface RollbackPosition {
  id: number;
  rowId: number;
}

export interface RollbackInput extends RollbackRequest {
  /** Carried over continue-as-new. */
  resume?: RollbackState;
}

/** At most this many conflicts in a rollback's report: a page's, and the whole rollback's. */
export const ROLLBACK_CONFLICT_SAMPLE = 50;

export interface RollbackResult {
  rollbackId: string;
  dryRun: boolean;
  force: boolean;
  selection: RollbackSelection;
  entries: number;
  rows: number;
  restored: number;
  alreadyRestored: number;
  conflictCount: number;
  conflicts: RollbackConflict[];
  restoredBySide: { new: number; legacy: number };
  requeuedOrders: number;
  reread: Record<string, number>;
  reopened: number;
  schedule: { paused: 'paused' | 'already-paused' | 'not-found' | 'untouched (dry run)'; resumed: 'resumed' | 'not-found' | 'no (not asked)' | 'no (dry run)' };
}

export interface RollbackState {
  result: RollbackResult;
  before: RollbackPosition | null;
  pages: number;
}


// ─────────────────────────────── manual conflicts ───────────────────────────────

export interface ConflictReviewInput {
  conflictId: number;
  table: string;
  legacyId: number | null;
}

export interface ConflictResolution {
  take: 'legacy' | 'new' | 'merged';
  /** Column values set by the operator (new table's columns), over the side taken. */
  set?: Record<string, string | number | boolean | null>;
  /** Who resolved it, for the record. */
  by?: string;
}

export interface ConflictReviewResult {
  conflictId: number;
  runId: string;
  resolution: ConflictResolution;
  values: Record<string, unknown>;
  writtenBack: boolean;
}


// ─────────────────────────────── worker roles ───────────────────────────────

/** What a worker process serves (src/temporal/worker.ts). */
export type WorkerRole = 'core' | 'legacy' | 'all';
export const WORKER_ROLES: WorkerRole[] = ['all', 'core', 'legacy'];

// ─────────────────────────────── legacy triggers ───────────────────────────────

export interface TriggersInput {
  action: 'install' | 'remove';
  tables?: string[];
  /** remove: the sync_queue table too. */
  dropQueue?: boolean;
}

// ─────────────────────────────── workflow ids ───────────────────────────────

/** Workflow ids that say what they are, as the Web UI lists them. */
export const SCHEDULE_ID = 'luckygas-sync-cycle';
export const CONSISTENCY_SCHEDULE_ID = 'luckygas-consistency-check';
export const ids = {
  cycle: (how: 'manual' | 'demo' | 'test', at: string) => `sync-cycle/${how}/${at}`,
  /** A schedule appends the scheduled time: sync-cycle/scheduled-<time>. */
  scheduledCycle: 'sync-cycle/scheduled',
  tableSync: (table: string, direction: Direction, cycleId: string) => `table-sync/${table}/${direction}/${cycleId}`,
  backfill: (table: string) => `backfill/${table}`,
  retry: (table: string, at: string) => `held-back-retry/${table}/${at}`,
  repair: (table: string, checkId: string) => `consistency-repair/${table}/${checkId}`,
  check: (how: 'manual', at: string) => `consistency-check/${how}/${at}`,
  scheduledCheck: 'consistency-check/scheduled',
  rollback: (at: string) => `rollback/${at}`,
  review: (conflictId: number) => `conflict-review/${conflictId}`,
  resolution: (conflictId: number) => `conflict-resolution/${conflictId}`,
  legacyFile: (action: 'install-triggers' | 'remove-triggers' | 'describe', at: string) => `legacy-file/${action}/${at}`,
};
