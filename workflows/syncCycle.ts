import { executeChild, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { RunSummary } from '../activities/legacyToNew';
import { bookkeeping } from './activities';
import type { Direction } from '../src/config/tables';
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
 * resolution left to the new side.
 */
async function syncTable(table: string, directions: Direction[], cycleId: string): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  if (directions.includes('legacy-to-new')) {
    out.push(
      await executeChild(TableSyncWorkflow, {
        workflowId: `table-sync/${table}/legacy-to-new/${cycleId}`,
        args: [{ table, direction: 'legacy-to-new', parentId: cycleId }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `${table} legacy-to-new`,
      }),
    );
  }
  if (directions.includes('new-to-legacy')) {
    out.push(
      await executeChild(WriteBackWorkflow, {
        workflowId: `table-sync/${table}/new-to-legacy/${cycleId}`,
        args: [{ parentId: cycleId }],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        staticSummary: `${table} new-to-legacy`,
      }),
    );
  }
  return out;
}

export async function SyncCycleWorkflow(input: SyncCycleInput = {}): Promise<CycleSummary> {
  const cycleId = workflowInfo().workflowId;
  const { levels, directions } = await bookkeeping.planCycle({ tables: input.tables });
  const summaries: RunSummary[] = [];
  for (const level of levels) {
    const results = await Promise.all(level.map((table) => syncTable(table, directions[table], cycleId)));
    summaries.push(...results.flat());
  }
  return { cycleId, tables: summaries };
}
