import { stackUp } from '../../src/stack/stack';
import { testStackSettings } from './testStack';

/** Starts the tests' stack (idempotent) and hands its endpoints to the test files. */
export default async function globalSetup(): Promise<void> {
  const endpoints = await stackUp(testStackSettings(), (line) => process.stderr.write(`[test stack] ${line}\n`));
  process.env.TEST_DATABASE_URL = endpoints.DATABASE_URL;
  process.env.TEST_REDIS_URL = endpoints.REDIS_URL;
  process.env.TEST_TEMPORAL_ADDRESS = endpoints.TEMPORAL_ADDRESS;
  process.env.TEST_TEMPORAL_UI_URL = endpoints.TEMPORAL_UI_URL ?? '';
}
