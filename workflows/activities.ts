import { ActivityFailure, ApplicationFailure, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { CoreActivities } from '../activities/core';
import type { LegacyActivities } from '../activities/legacy';
import { DEFAULT_LEGACY_QUEUE } from '../src/shared';

/**
 * The activities as workflows see them, typed once. Each step is short and retried on any
 * transient failure (a busy legacy file, PostgreSQL or Redis away); a failure the activity
 * marks non-retryable (bad configuration, no legacy file, a vanished claim, work for another
 * target) surfaces at once.
 */

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 } as const;

/** A batch's steps on the core workers. */
export const core = proxyActivities<CoreActivities>({
  startToCloseTimeout: '5 minutes',
  // A worker that dies mid-activity is noticed within this, and the activity retried elsewhere.
  heartbeatTimeout: '30 seconds',
  retry,
});

/** The patch (docs/versioning.md) behind which a cycle's batch steps are local activities. */
export const LOCAL_BATCH_STEPS = 'batch-steps-as-local-activities';
const localCore = proxyLocalActivities<CoreActivities>({ startToCloseTimeout: '5 minutes', retry });

/**
 * A cycle's batch steps on the core workers (applying a run's last page, a queue's batch,
 * planning and recording a write-back batch): local activities, in the workflow task of the
 * core worker that runs the run, as the bookkeeping below. Each would otherwise cost a trip
 * through the task queue and a workflow task after it (~20 ms on a 2-core machine, ~10 % of a
 * 1,000-row cycle). A worker that dies meanwhile is noticed by the workflow task's timeout,
 * and the step runs again on another (each is idempotent by its batch key). Steps with a
 * capture running beside them (a page applied while the next is read, the pages of a load)
 * stay activities: a workflow task held open by a local activity sends the commands it holds
 * (the next capture) only when it ends. A run whose history was made before the patch goes on
 * with activities.
 */
export function batchSteps(): CoreActivities {
  return patched(LOCAL_BATCH_STEPS) ? localCore : core;
}

/**
 * A table loaded in one transaction (loadTable): as long as it takes, alive while it
 * heartbeats, never retried by Temporal (a transaction cannot be resumed: the workflow starts
 * the load again).
 */
export const loading = proxyActivities<CoreActivities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});

/** The patch (docs/versioning.md) behind which bookkeeping steps are local activities. */
export const LOCAL_BOOKKEEPING = 'bookkeeping-as-local-activities';
const remoteBookkeeping = proxyActivities<CoreActivities>({ startToCloseTimeout: '1 minute', retry });
const localBookkeeping = proxyLocalActivities<CoreActivities>({ startToCloseTimeout: '1 minute', retry });

/**
 * Bookkeeping steps: short reads and writes of PostgreSQL. They run as local activities, in
 * the workflow task of the core worker that runs the workflow (which has every core activity):
 * no trip through a task queue and no workflow task after each, which is most of an idle
 * cycle's time. A run whose history was made before the patch goes on with activities.
 */
export function bookkeeping(): CoreActivities {
  return patched(LOCAL_BOOKKEEPING) ? localBookkeeping : remoteBookkeeping;
}

/**
 * Steps of an operator's run (a check, a rollback, a review) that may take seconds (counting
 * a table, selecting a rollback, applying a resolution, pausing the schedule): activities,
 * never local, because a workflow task held open by a local activity keeps the run from
 * answering its queries and updates until it ends.
 */
export const operatorSteps = remoteBookkeeping;

/** Steps that walk many rows (a consistency chunk, a rollback page); they heartbeat. */
export const longSteps = proxyActivities<CoreActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { ...retry, maximumAttempts: 10 },
});

/**
 * The legacy agent's steps, on its own task queue (the default name here; a client that
 * configured another sends its runs there, see interceptors.ts). Without an agent polling,
 * a step fails after ten minutes instead of waiting for ever.
 */
export const legacy = proxyActivities<LegacyActivities>({
  taskQueue: DEFAULT_LEGACY_QUEUE,
  scheduleToStartTimeout: '10 minutes',
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry,
});

/** The legacy agent's stream of a whole table to a load (captureTable): as long as the load, alive while it heartbeats. */
export const legacyStream = proxyActivities<LegacyActivities>({
  taskQueue: DEFAULT_LEGACY_QUEUE,
  scheduleToStartTimeout: '10 minutes',
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  retry,
});

/** The failure an activity raised: an activity's comes wrapped in an ActivityFailure, a local activity's as it is. */
function raised(err: unknown): ApplicationFailure | null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : null;
}

/** A step failed because the batch it was given is gone from Redis (the batch is captured again). */
export const claimGone = (err: unknown): boolean => raised(err)?.type === 'ClaimMissing';

/** A step failed with a failure no retry can fix. */
export const nonRetryable = (err: unknown): boolean => raised(err)?.nonRetryable === true;
