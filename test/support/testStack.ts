import path from 'node:path';
import { PROJECT_ROOT } from '../../src/paths';
import { stackSettingsFromEnv, type StackSettings } from '../../src/stack/settings';

/**
 * The tests' own stack: its own data folder and ports, so it runs beside a developer's
 * stack (or a demo) without touching it. Override with the usual LUCKYGAS_* variables.
 */
export function testStackSettings(): StackSettings {
  return stackSettingsFromEnv({
    LUCKYGAS_DATA_DIR: path.join(PROJECT_ROOT, '.data', 'test-stack'),
    LUCKYGAS_PG_PORT: '55433',
    LUCKYGAS_REDIS_PORT: '56380',
    LUCKYGAS_TEMPORAL_PORT: '7243',
    LUCKYGAS_TEMPORAL_UI_PORT: '8243',
    ...overrides(process.env),
  });
}

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
