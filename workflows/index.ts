// Workflow code only: deterministic, no I/O. The worker bundles this file.
export { SyncCycleWorkflow } from './syncCycle';
export { TableSyncWorkflow, BackfillWorkflow, QueueSyncWorkflow } from './tableSync';
export { WriteBackWorkflow } from './writeBack';
export { ConsistencyCheckWorkflow } from './consistencyCheck';
export { RollbackWorkflow } from './rollback';
export { ConflictReviewWorkflow } from './conflictReview';
export { DescribeLegacyWorkflow, LegacyTriggersWorkflow } from './legacyFile';
