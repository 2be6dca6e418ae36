import { ApplicationFailure, CancellationScope, executeChild, isCancellation, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { CycleRun } from '../activities/core';
import type { CycleSummary, RunSummary, SyncCycleInput, TableSyncStart } from '../src/shared';
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
 * legacy → new failed. Children are cancelled with the cycle (never terminated) and record
 * their own end. The cycle fails when a table failed, once every run has recorded its end.
 */

export async function SyncCycleWorkflow(input: SyncCycleInput = {}): Promise<CycleSummary> {
  const cycleId = workflowInfo().workflowId;
  const draft = await bookkeeping().planCycle({ tables: input?.tables, cycleId });
  const probed = draft.probes.length > 0 ? await legacy.probeTables({ probes: draft.probes }) : [];
  const runs = await bookkeeping().beginCycleRuns({ draft, probed });

  const summaries: RunSummary[] = [];
  const failed = new Map<string, string>();
  const skip = async (starts: (TableSyncStart & { reason: string })[]) => {
    if (starts.length > 0) summaries.push(...(await CancellationScope.nonCancellable(() => bookkeeping().recordSkipped({ runs: starts }))));
  };
  const startsOf = (tables: string[], reason: (table: string) => string) =>
    draft.drafts.filter((d) => tables.includes(d.start.table)).map((d) => ({ ...d.start, reason: reason(d.start.table) }));

  for (const [i, level] of draft.levels.entries()) {
    const failedParents = (t: string) => draft.parents[t].filter((p) => failed.has(p));
    const blocked = level.filter((t) => failedParents(t).length > 0);
    await skip(startsOf(blocked, (t) => `not started: parent table ${failedParents(t).join(', ')} failed in this cycle`));
    const ready = level.filter((t) => !blocked.includes(t));
    const settled = await Promise.allSettled(ready.map((table) => syncTable(table, runs, cycleId, skip)));
    let cancelled: unknown = null;
    settled.forEach((s, k) => {
      if (s.status === 'fulfilled') summaries.push(...s.value);
      else {
        failed.set(ready[k], rootMessage(s.reason));
        if (isCancellation(s.reason)) cancelled = s.reason;
      }
    });
    if (cancelled) {
      await skip(startsOf(draft.levels.slice(i + 1).flat(), () => 'not started: the cycle was cancelled'));
      throw cancelled;
    }
  }
  if (failed.size > 0) {
    const summary: CycleSummary = { cycleId, tables: summaries };
    throw ApplicationFailure.nonRetryable([...failed].map(([t, why]) => `${t}: ${why}`).join('; '), 'TableSyncFailed', summary);
  }
  return { cycleId, tables: summaries };
}

/**
 * Both directions of a table, legacy → new first: its three-way merges see both sides'
 * changes and queue for the write-back what legacy must receive, so the write-back is
 * decided after it.
 */
async function syncTable(table: string, runs: Record<string, CycleRun>, cycleId: string, skip: (s: (TableSyncStart & { reason: string })[]) => Promise<void>): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  const l2n = runs[`${table} legacy-to-new`];
  let n2l = runs[`${table} new-to-legacy`];
  if (l2n && 'summary' in l2n) out.push(l2n.summary);
  if (l2n && 'plan' in l2n) {
    try {
      out.push(await child(TableSyncWorkflow, l2n.plan.runId, { plan: l2n.plan, parentId: cycleId }, `${table} legacy-to-new`));
    } catch (err) {
      if (n2l && 'after' in n2l) await skip([{ ...n2l.after.start, reason: `not started: ${table} legacy-to-new ${isCancellation(err) ? 'was cancelled' : 'failed'} in this cycle` }]);
      throw err;
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
