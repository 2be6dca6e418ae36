import { ApplicationFailure, continueAsNew, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CoreActivities } from '../activities/core';
import { rollbackProgressQuery } from '../src/messages';
import { ROLLBACK_CONFLICT_SAMPLE, type RollbackInput, type RollbackPageResult, type RollbackRequest, type RollbackResult, type RollbackState } from '../src/shared';
import { SyncOutcome, SyncRows } from '../src/temporal/searchAttributes';
import { bookkeeping, legacy, longSteps, operatorSteps } from './activities';
import { recordedRun } from './runs';
import { startReviews } from './tableSync';

/**
 * Undoes one sync run ({ runId }: the run and the runs under it) or everything since a time
 * ({ since, tables? }): pauses the sync schedule, restores the journal's before-images newest
 * first on both sides (PostgreSQL on a core worker, legacy through the legacy agent), queues
 * what must be read or written back again, opens again the reviews whose resolution it
 * undid, records itself as a run (kind rollback, undoable in turn) and resumes the schedule
 * only when asked (`resumeSchedule`). `dryRun` reports what it would do and changes nothing
 * (the schedule included). Rows changed after the undone runs are conflicts, skipped unless
 * `force`.
 *
 * Startable with the temporal CLI:
 *   temporal workflow start --task-queue luckygas-sync --type RollbackWorkflow --input '{"runId":"sync-cycle/..."}'
 */

/** Waiting for running sync runs to finish: every 10 s, for up to about 10 minutes. */
const quiet = proxyActivities<CoreActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 1, maximumAttempts: 60 },
});

const PAGE_SIZE = 200;
const PAGES_PER_RUN = 200;

function validate(input: RollbackInput): void {
  const bad = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidInput');
  if (input === null || typeof input !== 'object') throw bad('input must be an object: { "runId": "..." } or { "since": "<ISO time>", "tables"?: [...] }');
  const hasRun = typeof input.runId === 'string' && input.runId !== '';
  const hasSince = typeof input.since === 'string' && input.since !== '';
  if (hasRun === hasSince) throw bad('give exactly one of runId (undo one sync run) or since (undo everything since an ISO time)');
  if (hasSince && Number.isNaN(Date.parse(input.since!))) throw bad(`since '${input.since}' is not an ISO-8601 time`);
  if (input.tables !== undefined && (!Array.isArray(input.tables) || input.tables.some((t) => typeof t !== 'string'))) throw bad('tables must be a list of table names');
}

function add(r: RollbackResult, page: RollbackPageResult): void {
  r.restored += page.restored;
  r.alreadyRestored += page.alreadyRestored;
  r.conflictCount += page.conflicts;
  r.restoredBySide.new += page.restoredBySide.new;
  r.restoredBySide.legacy += page.restoredBySide.legacy;
  r.requeuedOrders += page.requeuedOrders;
  r.reopened += page.reopened;
  for (const [t, n] of Object.entries(page.reread)) r.reread[t] = (r.reread[t] ?? 0) + n;
  for (const c of page.conflictSample) if (r.conflicts.length < ROLLBACK_CONFLICT_SAMPLE) r.conflicts.push(c);
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
    let begun: Awaited<ReturnType<CoreActivities['beginRollback']>>;
    try {
      if (!dryRun) {
        // No new cycle starts while rows are restored; one already running is waited for.
        paused = await operatorSteps.pauseSyncSchedule({ note: `paused by rollback ${rollbackId}` });
        await quiet.waitForQuietSync({ rollbackId, runId: input.runId });
      }
      begun = await operatorSteps.beginRollback({ rollbackId, request });
    } catch (err) {
      // Nothing was restored (an unknown run, a cycle that would not finish): the schedule goes back as it was.
      if (paused === 'paused') await operatorSteps.resumeSyncSchedule({ note: `rollback ${rollbackId} failed before restoring anything` });
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
        reread: {},
        reopened: 0,
        schedule: { paused, resumed: dryRun ? 'no (dry run)' : 'no (not asked)' },
      },
    };
  }
  const r = state.result;
  setHandler(rollbackProgressQuery, () => ({ pages: state.pages, restored: r.restored, alreadyRestored: r.alreadyRestored, conflicts: r.conflictCount, rows: r.rows }));

  const restore = async () => {
    let pagesThisRun = 0;
    for (;;) {
      if (pagesThisRun >= PAGES_PER_RUN) await continueAsNew<typeof RollbackWorkflow>({ ...input, resume: state });
      const batchKey = `${rollbackId}#${state.pages}`;
      const page = await longSteps.rollbackPage({ rollbackId, batchKey, selection: r.selection, before: state.before, limit: PAGE_SIZE, dryRun, force });
      add(r, page);
      if (page.legacyBatch) {
        await legacy.restoreLegacy({ batchKey, rollbackId, dryRun, force });
        add(r, await longSteps.recordLegacyRestores({ rollbackId, batchKey, dryRun }));
      }
      pagesThisRun++;
      state.pages++;
      state.before = page.before;
      if (page.done) break;
    }
  };

  if (dryRun) await restore();
  else {
    await recordedRun(rollbackId, async () => {
      await restore();
      await bookkeeping().finishRollbackCounts({ rollbackId, rows: r.rows, restored: r.restored, conflicts: r.conflictCount });
      // Conflicts whose resolution was undone wait for review again.
      await startReviews(await operatorSteps.reopenedReviews({ selection: r.selection }));
    });
    if (input.resumeSchedule === true) r.schedule.resumed = await operatorSteps.resumeSyncSchedule({ note: `resumed after rollback ${rollbackId}` });
  }
  upsertSearchAttributes([
    { key: SyncRows, value: r.restored },
    { key: SyncOutcome, value: dryRun ? 'dry-run' : r.conflictCount > 0 ? 'completed-with-conflicts' : 'completed' },
  ]);
  return r;
}
