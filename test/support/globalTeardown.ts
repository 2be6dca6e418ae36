import { stackDown } from '../../src/stack/stack';
import { testStackSettings } from './testStack';

/** Stops the tests' stack, unless asked to keep it for a quicker next run. */
export default async function globalTeardown(): Promise<void> {
  if (process.env.LUCKYGAS_KEEP_TEST_STACK === '1') return;
  await stackDown(testStackSettings());
}
