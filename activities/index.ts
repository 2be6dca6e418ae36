import type { ActivityDeps } from './deps';
import { observeActivity } from '../src/monitor/metrics';
import { createLegacyToNewActivities } from './legacyToNew';
import { createNewToLegacyActivities } from './newToLegacy';
import { createConsistencyActivities } from './consistency';
import { createRollbackActivities } from './rollback';

/** Times every activity for the monitor's histogram, keeping its signature. */
function timed<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      const started = performance.now();
      try {
        return await fn(...args);
      } finally {
        observeActivity(name, (performance.now() - started) / 1000);
      }
    };
  }
  return out as T;
}

/** All activities of the worker, typed once; workflows proxy them with `typeof` this. */
export function createActivities(deps: ActivityDeps) {
  return timed({
    ...createLegacyToNewActivities(deps),
    ...createNewToLegacyActivities(deps),
    ...createConsistencyActivities(deps),
    ...createRollbackActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
export { createActivityDeps, closeActivityDeps, type ActivityDeps } from './deps';
