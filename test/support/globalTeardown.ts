import type { Config } from '@jest/types';
import { stackDown } from '../../src/stack/stack';
import { testStackSettings } from './testStack';

/** Stops the tests' stacks, unless asked to keep them for a quicker next run. */
export default async function globalTeardown(globalConfig: Config.GlobalConfig): Promise<void> {
  if (process.env.LUCKYGAS_KEEP_TEST_STACK === '1') return;
  for (let n = 1; n <= (globalConfig.maxWorkers); n++) await stackDown(testStackSettings(n));
}
