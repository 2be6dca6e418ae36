import path from 'node:path';
import { PROJECT_ROOT } from '../../src/paths';
import { stackSettingsFromEnv, type StackSettings } from '../../src/stack/settings';

/**
 * The tests' own stacks: their own data folders and ports, so they run beside a developer's
 * stack (or a demo) without touching it. Override with the usual LUCKYGAS_* variables.
 *
 * Jest runs test files side by side in worker processes; each worker has a stack of its own
 * (worker 1 the base ports and `.data/test-stack`, worker n the ports 100·(n−1) higher and
 * `.data/test-stack-n`), so two files never share a schedule, a workflow id or a restarted
 * service. Services given as URLs (LUCKYGAS_TEST_DATABASE_URL ...) are shared by every
 * worker: run those with --runInBand.
 */
export function testStackSettings(worker = currentWorker()): StackSettings {
  const offset = (n: number) => String(n + 100 * (worker - 1));
  const o = overrides(process.env);
  const dataDir = o.LUCKYGAS_DATA_DIR ?? path.join(PROJECT_ROOT, '.data', 'test-stack');
  return stackSettingsFromEnv({
    ...o,
    LUCKYGAS_DATA_DIR: worker === 1 ? dataDir : `${dataDir}-${worker}`,
    LUCKYGAS_PG_PORT: offset(Number(o.LUCKYGAS_PG_PORT ?? 55433)),
    LUCKYGAS_REDIS_PORT: offset(Number(o.LUCKYGAS_REDIS_PORT ?? 56380)),
    LUCKYGAS_TEMPORAL_PORT: offset(Number(o.LUCKYGAS_TEMPORAL_PORT ?? 7243)),
    LUCKYGAS_TEMPORAL_UI_PORT: offset(Number(o.LUCKYGAS_TEMPORAL_UI_PORT ?? 8243)),
  });
}

/** This Jest worker's number (1 in band). */
export function currentWorker(): number {
  return Number(process.env.JEST_WORKER_ID ?? '1');
}

/** The endpoints a test reads, as globalSetup publishes them for worker n. */
export const ENDPOINT_VARIABLES = ['TEST_DATABASE_URL', 'TEST_REDIS_URL', 'TEST_TEMPORAL_ADDRESS', 'TEST_TEMPORAL_UI_URL'] as const;
export const workerVariable = (name: string, worker: number) => `${name}_${worker}`;

/** LUCKYGAS_TEST_<NAME> points the tests at other services or another data folder. */
function overrides(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['DATA_DIR', 'PG_PORT', 'REDIS_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT']) {
    const v = env[`LUCKYGAS_TEST_${k}`];
    if (v) out[`LUCKYGAS_${k}`] = v;
  }
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS']) {
    const v = env[`LUCKYGAS_TEST_${k}`];
    if (v) out[k] = v;
  }
  for (const k of ['TEMPORAL_CLI_PATH', 'PG_BIN_DIR']) if (env[k]) out[k] = env[k]!;
  return out;
}
