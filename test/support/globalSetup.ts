import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '@jest/types';
import { PROJECT_ROOT } from '../../src/paths';
import { stackUp } from '../../src/stack/stack';
import { ENDPOINT_VARIABLES, testStackSettings, workerVariable } from './testStack';
import { bundleWorkflows } from './workflowBundle';

/**
 * Starts the tests' stacks, one per Jest worker (idempotent), and hands their endpoints to
 * the test files: worker n's as TEST_*_n, which test/support/workerStack.ts turns into TEST_*.
 * Bundles the workflows once for every in-process worker of the run (TEST_WORKFLOW_BUNDLE).
 */
export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  const bundled = bundleWorkflows().then(({ code }) => {
    const file = path.join(PROJECT_ROOT, '.data', 'test-workflow-bundle.js');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, code);
    process.env.TEST_WORKFLOW_BUNDLE = file;
  });
  const workers = Array.from({ length: globalConfig.maxWorkers }, (_, i) => i + 1);
  await Promise.all(
    workers.map(async (n) => {
      const e = await stackUp(testStackSettings(n), (line) => process.stderr.write(`[test stack${n > 1 ? ` ${n}` : ''}] ${line}\n`));
      const values = [e.DATABASE_URL, e.REDIS_URL, e.TEMPORAL_ADDRESS, e.TEMPORAL_UI_URL ?? ''];
      ENDPOINT_VARIABLES.forEach((name, i) => (process.env[workerVariable(name, n)] = values[i]));
    }),
  );
  await bundled;
}
