// The workflows with the extra step of extraStep.ts, unguarded: a workflow bundle's entry module.
import * as workflows from '../../../workflows';
import { unguarded } from './extraStep';

export const SyncCycleWorkflow = unguarded(workflows.SyncCycleWorkflow);
export const TableSyncWorkflow = unguarded(workflows.TableSyncWorkflow);
export const BackfillWorkflow = unguarded(workflows.BackfillWorkflow);
export const QueueSyncWorkflow = unguarded(workflows.QueueSyncWorkflow);
export const WriteBackWorkflow = unguarded(workflows.WriteBackWorkflow);
export const ConsistencyCheckWorkflow = unguarded(workflows.ConsistencyCheckWorkflow);
export const RollbackWorkflow = unguarded(workflows.RollbackWorkflow);
export const ConflictReviewWorkflow = unguarded(workflows.ConflictReviewWorkflow);
export const LegacyTriggersWorkflow = unguarded(workflows.LegacyTriggersWorkflow);
export const DescribeLegacyWorkflow = unguarded(workflows.DescribeLegacyWorkflow);
