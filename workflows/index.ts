// Workflow code only: deterministic, no I/O. The worker bundles this file.
export { syncCycleWorkflow } from './syncCycle';
export { tableSyncWorkflow, progressQuery } from './tableSync';
export { backfillWorkflow } from './backfill';
