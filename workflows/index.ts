// Workflow code only: deterministic, no I/O. The worker bundles this file.
export { SyncCycleWorkflow } from './syncCycle';
export { TableSyncWorkflow, progressQuery } from './tableSync';
export { BackfillWorkflow } from './backfill';
export { WriteBackWorkflow } from './writeBack';
export { ConsistencyCheckWorkflow } from './consistencyCheck';
export { RollbackWorkflow } from './rollback';
