// The workflows with the extra step of extraStep.ts, guarded: a workflow bundle's entry module.
import * as workflows from '../../../workflows';
import { guarded } from './extraStep';

export const SyncCycleWorkflow = guarded(workflows.SyncCycleWorkflow);
export const TableSyncWorkflow = guarded(workflows.TableSyncWorkflow);
export const BackfillWorkflow = guarded(workflows.BackfillWorkflow);
export const QueueSyncWorkflow = guarded(workflows.QueueSyncWorkflow);
export const WriteBackWorkflow = guarded(workflows.WriteBackWorkflow);
export const ConsistencyCheckWorkflow = guarded(workflows.ConsistencyCheckWorkflow);
export const RollbackWorkflow = guarded(workflows.RollbackWorkflow);
export const ConflictReviewWorkflow = guarded(workflows.ConflictReviewWorkflow);
export const LegacyTriggersWorkflow = guarded(workflows.LegacyTriggersWorkflow);
export const DescribeLegacyWorkflow = guarded(workflows.DescribeLegacyWorkflow);
