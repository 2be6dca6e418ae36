import { workflowInfo } from '@temporalio/workflow';
import type { RunSummary } from '../activities/legacyToNew';
import { TableSyncWorkflow, type TableSyncInput } from './tableSync';

/**
 * A full backfill of one table: every legacy row from the beginning, whatever the watermark
 * (rows whose content is already synced are skipped by their hash). Continues as new every
 * so many batches and resumes where it was after any crash; query `progress` to follow it.
 */
export async function BackfillWorkflow(input: Pick<TableSyncInput, 'table' | 'resume'>): Promise<RunSummary> {
  return TableSyncWorkflow({ table: input.table, direction: 'legacy-to-new', kind: 'backfill', resume: input.resume, parentId: workflowInfo().workflowId });
}
