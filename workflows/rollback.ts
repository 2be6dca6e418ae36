import {
  ApplicationFailure,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RollbackConflict, RollbackRequest, RollbackSelection, WatermarkChange } from '../activities/rollback';
import { rootMessage } from '../src/temporal/failures';
import { SyncOutcome, SyncRows } from '../src/temporal/searchAttributes';
import { bookkeeping, longSteps } from './activities';

/**
 * Undoes one sync run ({ runId }: the run and the runs under it) or everything since a time
 * ({ since, tables? }): pauses the sync schedule, restores the journal's before-images newest
 * first on both sides, moves the watermarks back so the restored rows are read again, records
 * itself as a run (kind 'rollback', undoable in turn) and resumes the schedule only when
 * asked (`resumeSchedule`). `dryRun` reports what it would do and changes nothing (the
 * schedule included). Rows changed after the undone runs are conflicts, skipped unless `force`.
 *
 * Startable with the temporal CLI:
 *   temporal workflow start --task-queue luckygas-sync --type RollbackWorkflow --input '{"runId":"sync-cycle/..."}'
 */

export interface RollbackInput extends RollbackRequest {
  /** Carried over continue-as-new. */
  resume?: RollbackState;
}

export interface RollbackResult {
  rollbackId: string;
  dryRun: boolean;
  force: boolean;
  selection: RollbackSelection;
  /** Journal entries selected, and the rows they touch (each row is restored once). */
  entries: number;
  rows: number;
  restored: number;
  alreadyRestored: number;
  conflictCount: number;
  /** A sample (up to 50) of the rows skipped, with why. */
  conflicts: RollbackConflict[];
  restoredBySide: { new: number; legacy: number };
  requeuedOrders: number;
  watermarks: WatermarkChange[];
  schedule: { paused: 'paused' | 'already-paused' | 'not-found' | 'untouched (dry run)'; resumed: 'resumed' | 'not-found' | 'no (not asked)' | 'no (dry run)' };
}

interface RollbackState {
  result: RollbackResult;
  before: number | null;
  pages: number;
}

export const rollbackProgressQuery = defineQuery<{ pages: number; restored: number; alreadyRestored: number; conflicts: number; rows: number }>('progress');

/** Waiting for running sync runs to finish: every 10 s, for up to about 10 minutes. */
const quiet = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 1, maximumAttempts: 60 },
});

const PAGE_SIZE = 200;
const PAGES_PER_RUN = 200;
const SAMPLE = 50;

function validate(input: RollbackInput): void {
  const bad = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidInput');
  if (input === null || typeof input !== 'object') throw bad('input must be an object: { "runId": "..." } or { "since": "<ISO time>", "tables"?: [...] }');
  const hasRun = typeof input.runId === 'string' && input.runId !== '';
  const hasSince = typeof input.since === 'string' && input.since !== '';
  if (hasRun === hasSince) throw bad('give exactly one of runId (undo one sync run) or since (undo everything since an ISO time)');
  if (hasSince && Number.isNaN(Date.parse(input.since!))) throw bad(`since '${input.since}' is not an ISO-8601 time`);
  if (input.tables !== undefined && (!Array.isArray(input.tables) || input.tables.some((t) => typeof t !== 'string'))) throw bad('tables must be a list of table names');
}

export async function RollbackWorkflow(input: RollbackInput): Promise<RollbackResult> {
  validate(input);
  const rollbackId = workflowInfo().workflowId;
  const dryRun = input.dryRun === true;
  const force = input.force === true;
  const request: RollbackRequest = { runId: input.runId, since: input.since, tables: input.tables, dryRun, force, resumeSchedule: input.resumeSchedule === true };

  let state: RollbackState;
  if (input.resume) {
    state = input.resume;
  } else {
    let paused: RollbackResult['schedule']['paused'] = 'untouched (dry run)';
    let begun: Awaited<ReturnType<typeof bookkeeping.beginRollback>>;
    try {
      if (!dryRun) {
        // No new cycle starts while rows are restored; one already running is waited for.
        paused = await bookkeeping.pauseSyncSchedule({ note: `paused by rollback ${rollbackId}` });
        await quiet.waitForQuietSync({ rollbackId, runId: input.runId, since: input.since });
      }
      begun = await bookkeeping.beginRollback({ rollbackId, request });
    } catch (err) {
      // Nothing was restored (an unknown run, a cycle that would not finish): the schedule goes back as it was.
      if (paused === 'paused') await bookkeeping.resumeSyncSchedule({ note: `rollback ${rollbackId} failed before restoring anything` });
      throw err;
    }
    state = {
      before: null,
      pages: 0,
      result: {
        rollbackId,
        dryRun,
        force,
        selection: begun.selection,
        entries: begun.entries,
        rows: begun.rows,
        restored: 0,
        alreadyRestored: 0,
        conflictCount: 0,
        conflicts: [],
        restoredBySide: { new: 0, legacy: 0 },
        requeuedOrders: 0,
        watermarks: [],
        schedule: { paused, resumed: dryRun ? 'no (dry run)' : 'no (not asked)' },
      },
    };
  }
  const r = state.result;
  setHandler(rollbackProgressQuery, () => ({ pages: state.pages, restored: r.restored, alreadyRestored: r.alreadyRestored, conflicts: r.conflictCount, rows: r.rows }));

  try {
    let pagesThisRun = 0;
    for (;;) {
      if (pagesThisRun >= PAGES_PER_RUN) await continueAsNew<typeof RollbackWorkflow>({ ...input, resume: state });
      const page = await longSteps.rollbackPage({ rollbackId, selection: r.selection, before: state.before, limit: PAGE_SIZE, dryRun, force });
      pagesThisRun++;
      state.pages++;
      r.restored += page.restored;
      r.alreadyRestored += page.alreadyRestored;
      r.conflictCount += page.conflicts;
      r.restoredBySide.new += page.restoredBySide.new;
      r.restoredBySide.legacy += page.restoredBySide.legacy;
      r.requeuedOrders += page.requeuedOrders;
      for (const c of page.conflictSample) if (r.conflicts.length < SAMPLE) r.conflicts.push(c);
      for (const w of page.watermarks) {
        const prior = r.watermarks.find((x) => x.table === w.table && x.mode === w.mode);
        if (!prior) r.watermarks.push(w);
        else if (w.mode === 'timestamp') prior.to = w.to;
        else prior.queued = (prior.queued ?? 0) + (w.queued ?? 0);
      }
      state.before = page.before;
      if (page.done) break;
    }
  } catch (err) {
    if (!(err instanceof ContinueAsNew)) {
      if (!dryRun) await bookkeeping.finishRollback({ rollbackId, status: 'failed', error: rootMessage(err), result: r, restored: r.restored, conflicts: r.conflictCount, rows: r.rows });
      upsertSearchAttributes([{ key: SyncOutcome, value: 'failed' }]);
    }
    throw err;
  }

  if (!dryRun) {
    await bookkeeping.finishRollback({ rollbackId, status: 'completed', result: r, restored: r.restored, conflicts: r.conflictCount, rows: r.rows });
    if (input.resumeSchedule === true) r.schedule.resumed = await bookkeeping.resumeSyncSchedule({ note: `resumed after rollback ${rollbackId}` });
  }
  upsertSearchAttributes([
    { key: SyncRows, value: r.restored },
    { key: SyncOutcome, value: dryRun ? 'dry-run' : r.conflictCount > 0 ? 'completed-with-conflicts' : 'completed' },
  ]);
  return r;
}
