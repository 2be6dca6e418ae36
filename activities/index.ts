// The activities, typed once: workflows proxy them with `typeof` these (types only).
export { createCoreActivities, type CoreActivities } from './core';
export { createLegacyActivities, type LegacyActivities } from './legacy';
export { createCoreDeps, createLegacyDeps, closeDeps, type CoreDeps, type LegacyDeps } from './deps';
