import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { DATABASE_CONFIG_ERROR, databaseConfigError } from '../src/db/configErrors';
import { observeActivity } from '../src/monitor/metrics';
import { createLegacyToNewActivities } from './legacyToNew';
import { createNewToLegacyActivities } from './newToLegacy';
import { createConsistencyActivities } from './consistency';
import { createRollbackActivities } from './rollback';

/**
 * Times every activity for the monitor's histogram, keeping its signature. A DATABASE_URL that
 * PostgreSQL refuses (no such database, wrong password) fails at once: no retry can fix it.
 */
function timed<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, databaseUrl: string): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      const started = performance.now();
      try {
        return await fn(...args);
      } catch (err) {
        const config = databaseConfigError(err, databaseUrl);
        throw config ? ApplicationFailure.nonRetryable(config, DATABASE_CONFIG_ERROR) : err;
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
  }, deps.env.DATABASE_URL);
}

export type Activities = ReturnType<typeof createActivities>;
export { createActivityDeps, closeActivityDeps, type ActivityDeps } from './deps';
