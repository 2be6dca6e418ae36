import { patched } from '@temporalio/workflow';
import { legacy } from '../../../workflows/activities';

/**
 * A change to every workflow's commands, for the versioning tests: before its own work, each
 * workflow asks the legacy agent for a row count (an activity the old code never scheduled).
 */

export const EXTRA_STEP_PATCH = 'count-legacy-deliveries-first';

type Workflow<A extends unknown[], R> = (...args: A) => Promise<R>;

async function extraStep(): Promise<void> {
  await legacy.countLegacy({ table: 'deliveries' });
}

/** The change shipped as it must be: guarded by patched(), so runs started before it replay the old path. */
export const guarded =
  <A extends unknown[], R>(workflow: Workflow<A, R>): Workflow<A, R> =>
  async (...args) => {
    if (patched(EXTRA_STEP_PATCH)) await extraStep();
    return workflow(...args);
  };

/** The same change without the guard: a run started before it cannot go on. */
export const unguarded =
  <A extends unknown[], R>(workflow: Workflow<A, R>): Workflow<A, R> =>
  async (...args) => {
    await extraStep();
    return workflow(...args);
  };
