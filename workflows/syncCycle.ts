import { ApplicationFailure, CancellationScope, executeChild, isCancellation, ParentClosePolicy, patched, workflowInfo } from '@temporalio/workflow';
import type { CycleRun } from '../activities/core';
import type { CycleSummary, RunSummary, SyncCycleInput, TableSyncPlan, TableSyncStart } from '../src/shared';
import { rootMessage } from '../src/temporal/failures';
import { bookkeeping, legacy } from './activities';
import { TableSyncWorkflow } from './tableSync';
import { WriteBackWorkflow } from './writeBack';

/**
 * One sync cycle: every configured table, parents before children (orders need their
 * customer and driver), each table and direction a child workflow of its own. The cycle
 * first asks the legacy agent for each table's first page; a direction with nothing new
 * starts no child and is recorded as an idle, completed run.
 *
 * Every child is waited for (settled, not first failure). A table whose parent table failed
 * is not started and is recorded as skipped, with why; so is a write-back whose table's
 * legacy → new failed or was skipped. Children are cancelled with the cycle (never terminated)
 * and record their own end. The cycle fails when a table failed, once every run has recorded
 * its end.
 *
 * A table whose run loads an empty new table starts with its parent tables' level rather than
 * after it: its load gets its stream, workers and first pages ready meanwhile, and waits in its
 * transaction for its parents' runs to end before it reads their ids (src/apply/bulkLoad.ts).
 * A parent run that did not complete ends it skipped, with why, as if it had not started.
 */

/** The patch (docs/versioning.md) behind which a load into an empty table starts with its parents' level. */
export const LOADS_WITH_PARENTS = 'start-loads-with-their-parents';

export async function SyncCycleWorkflow(input: SyncCycleInput = {}): Promise<CycleSummary> {
  const cycleId = workflowInfo().workflowId;
  const draft = await bookkeeping().planCycle({ tables: input?.tables, cycleId });
  const probed = draft.probes.length > 0 ? await legacy.probeTables({ probes: draft.probes }) : [];
  const runs = await bookkeeping().beginCycleRuns({ draft, probed });

  const summaries: RunSummary[] = [];
  const failed = new Map<string, string>();
  const skip: Skip = async (starts, into = summaries) => {
    if (starts.length > 0) into.push(...(await CancellationScope.nonCancellable(() => bookkeeping().recordSkipped({ runs: starts }))));
  };
  const startsOf = (tables: string[], reason: (table: string) => string) =>
    draft.drafts.filter((d) => tables.includes(d.start.table)).map((d) => ({ ...d.start, reason: reason(d.start.table) }));

  // Tables started with their parents' level, by table.
  const started = new Map<string, Promise<RunSummary[]>>();
  for (const [i, level] of draft.levels.entries()) {
    const failedParents = (t: string) => draft.parents[t].filter((p) => failed.has(p));
    const blocked = level.filter((t) => !started.has(t) && failedParents(t).length > 0);
    await skip(startsOf(blocked, (t) => `not started: parent table ${failedParents(t).join(', ')} failed in this cycle`));
    const ready = level.filter((t) => !blocked.includes(t));
    const joining = (draft.levels[i + 1] ?? []).filter((t) => loadsEmptyTable(runs, t) && draft.parents[t].every((p) => ready.includes(p)));
    if (joining.length > 0 && patched(LOADS_WITH_PARENTS)) {
      for (const t of joining) {
        const parentRuns = draft.parents[t].flatMap((p) => planOf(runs, p)?.runId ?? []);
        const run = syncTable(t, runs, cycleId, skip, parentRuns);
        run.catch(() => undefined); // settled with its level
        started.set(t, run);
      }
    }
    const settled = await Promise.allSettled(ready.map((table) => started.get(table) ?? syncTable(table, runs, cycleId, skip)));
    let cancelled: unknown = null;
    settled.forEach((s, k) => {
      if (s.status === 'fulfilled') summaries.push(...s.value);
      else {
        failed.set(ready[k], rootMessage(s.reason));
        if (isCancellation(s.reason)) cancelled = s.reason;
      }
    });
    // A run that ended without recording its end (terminated, timed out) would keep a load
    // started with it waiting: its end is recorded here (a run keeps the first end recorded).
    const waitedFor = [...started.keys()].flatMap((t) => draft.parents[t]);
    for (const [k, s] of settled.entries()) {
      const plan = planOf(runs, ready[k]);
      if (s.status === 'fulfilled' || !plan || !waitedFor.includes(ready[k])) continue;
      const status = isCancellation(s.reason) ? 'cancelled' : 'failed';
      await CancellationScope.nonCancellable(() => bookkeeping().finishRun({ runId: plan.runId, status, error: rootMessage(s.reason) }));
    }
    if (cancelled) {
      // Those already started are cancelled with the cycle, and record their own end.
      await skip(startsOf(draft.levels.slice(i + 1).flat().filter((t) => !started.has(t)), () => 'not started: the cycle was cancelled'));
      throw cancelled;
    }
  }
  if (failed.size > 0) {
    const summary: CycleSummary = { cycleId, tables: summaries };
    throw ApplicationFailure.nonRetryable([...failed].map(([t, why]) => `${t}: ${why}`).join('; '), 'TableSyncFailed', summary);
  }
  return { cycleId, tables: summaries };
}

/** Records runs as skipped, with why; their summaries into the cycle's (or `into`). */
type Skip = (starts: (TableSyncStart & { reason: string })[], into?: RunSummary[]) => Promise<void>;

/** The plan of a table's legacy → new run in this cycle, when it has one to run. */
function planOf(runs: Record<string, CycleRun>, table: string): TableSyncPlan | null {
  const run = runs[`${table} legacy-to-new`];
  return run && 'plan' in run ? run.plan : null;
}

const loadsEmptyTable = (runs: Record<string, CycleRun>, table: string): boolean => planOf(runs, table)?.load?.empty === true;

/**
 * Both directions of a table, legacy → new first: its three-way merges see both sides'
 * changes and queue for the write-back what legacy must receive, so the write-back is
 * decided after it. `parentRuns`: the runs a load started with its parents waits for.
 */
async function syncTable(
  table: string,
  runs: Record<string, CycleRun>,
  cycleId: string,
  skip: Skip,
  parentRuns?: string[],
): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  const l2n = runs[`${table} legacy-to-new`];
  let n2l = runs[`${table} new-to-legacy`];
  const skipWriteBack = async (why: string, into?: RunSummary[]) => {
    if (n2l && 'after' in n2l) await skip([{ ...n2l.after.start, reason: `not started: ${table} legacy-to-new ${why} in this cycle` }], into);
  };
  if (l2n && 'summary' in l2n) out.push(l2n.summary);
  if (l2n && 'plan' in l2n) {
    let summary: RunSummary;
    try {
      summary = await child(TableSyncWorkflow, l2n.plan.runId, { plan: l2n.plan, parentId: cycleId, parentRuns }, `${table} legacy-to-new`);
    } catch (err) {
      await skipWriteBack(isCancellation(err) ? 'was cancelled' : 'failed');
      throw err;
    }
    out.push(summary);
    if (summary.status === 'skipped') {
      await skipWriteBack('was skipped', out);
      return out;
    }
  }
  if (n2l && 'after' in n2l) n2l = await bookkeeping().beginWriteBack(n2l.after);
  if (n2l && 'summary' in n2l) out.push(n2l.summary);
  if (n2l && 'plan' in n2l) out.push(await child(WriteBackWorkflow, n2l.plan.runId, { plan: n2l.plan, parentId: cycleId }, `${table} new-to-legacy`));
  return out;
}

function child<A>(workflow: (input: A) => Promise<RunSummary>, workflowId: string, arg: A, summary: string): Promise<RunSummary> {
  return executeChild(workflow, {
    workflowId,
    args: [arg],
    // A cancelled cycle asks its children to cancel: each records its own end.
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    staticSummary: summary,
  });
}
