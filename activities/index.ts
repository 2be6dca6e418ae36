import type { ActivityDeps } from './deps';
import { createLegacyToNewActivities } from './legacyToNew';

/** All activities of the worker, typed once; workflows proxy them with `typeof` this. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createLegacyToNewActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { createActivityDeps, closeActivityDeps, type ActivityDeps } from './deps';
