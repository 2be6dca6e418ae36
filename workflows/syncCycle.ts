import { executeChild, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { RunSummary } from '../activities/legacyToNew';
import { bookkeeping } from './activities';
import { TableSyncWorkflow } from './tableSync';

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

export async function SyncCycleWorkflow(input: SyncCycleInput = {}): Promise<CycleSummary> {
  const cycleId = workflowInfo().workflowId;
  const { levels, directions } = await bookkeeping.planCycle({ tables: input.tables });
  const summaries: RunSummary[] = [];
  for (const level of levels) {
    const results = await Promise.all(
      level.flatMap((table) =>
        directions[table]
          .filter((d) => d === 'legacy-to-new')
          .map((direction) =>
            executeChild(TableSyncWorkflow, {
              workflowId: `table-sync/${table}/${direction}/${cycleId}`,
              args: [{ table, direction, parentId: cycleId }],
              parentClosePolicy: ParentClosePolicy.TERMINATE,
              staticSummary: `${table} ${direction}`,
            }),
          ),
      ),
    );
    summaries.push(...results);
  }
  return { cycleId, tables: summaries };
}
