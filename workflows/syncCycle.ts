import { executeChild, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { CyclePlan, RunSummary } from '../activities/legacyToNew';
import { bookkeeping } from './activities';
import { TableSyncWorkflow } from './tableSync';
import { WriteBackWorkflow } from './writeBack';

/**
 * One sync cycle: every configured table, parents before children (orders need their
 * customer and driver), each table and direction in a child workflow of its own.
 */

export interface SyncCycleInput {
  tables?: string[];
}

export interface CycleSummary {
  cycleId: string;
  tables: RunSummary[];
}

/**
 * Both directions of a table, legacy → new first: a delivery edited on both sides is then
 * seen as a conflict once, by the first direction, and the write-back sends only what the
 * resolution left to the new side. A direction with nothing new starts no child workflow.
 */
async function syncTable(table: string, runs: CyclePlan['runs'], cycleId: string): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  const l2n = runs[`${table} legacy-to-new`];
  if (l2n?.skipped) out.push(l2n.skipped);
  else if (l2n?.plan) {
    out.push(
      await executeChild(TableSyncWorkflow, {
        workflowId: l2n.plan.runId,
        args: [{ table, direction: 'legacy-to-new', parentId: cycleId, plan: l2n.plan }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `${table} legacy-to-new`,
      }),
    );
  }
  const n2l = runs[`${table} new-to-legacy`];
  if (n2l?.skipped) out.push(n2l.skipped);
  else if (n2l?.plan) {
    out.push(
      await executeChild(WriteBackWorkflow, {
        workflowId: n2l.plan.runId,
        args: [{ parentId: cycleId, plan: n2l.plan }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `${table} new-to-legacy`,
      }),
    );
  }
  return out;
}

export async function SyncCycleWorkflow(input: SyncCycleInput = {}): Promise<CycleSummary> {
  const cycleId = workflowInfo().workflowId;
  const { levels, runs } = await bookkeeping.planCycle({ tables: input.tables, cycleId });
  const summaries: RunSummary[] = [];
  for (const level of levels) {
    const results = await Promise.all(level.map((table) => syncTable(table, runs, cycleId)));
    summaries.push(...results.flat());
  }
  return { cycleId, tables: summaries };
}
