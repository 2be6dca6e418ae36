/** Workflow ids that say what they are, as the Web UI lists them. */
export const SCHEDULE_ID = 'luckygas-sync-cycle';
export const cycleWorkflowId = (how: 'manual' | 'demo', at: Date) => `sync-cycle/${how}/${at.toISOString()}`;
export const backfillWorkflowId = (table: string) => `backfill/${table}`;
export const CONSISTENCY_SCHEDULE_ID = 'luckygas-consistency-check';
