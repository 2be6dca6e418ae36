import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * The activities as workflows see them. Each step of a batch is short and retried on any
 * transient failure (a busy legacy file, PostgreSQL or Redis away); a failure marked
 * non-retryable (bad configuration, no legacy file, a vanished claim) surfaces at once.
 */
export const batchSteps = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  // A worker that dies mid-activity is noticed within this, and the activity retried elsewhere.
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});

export const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/** Long steps that walk many rows (a consistency chunk, a rollback page); they heartbeat. */
export const longSteps = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});
