import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';

const ROOT = path.resolve(__dirname, '../..');

/** The workflows' entry module, as the worker loads it. */
export const WORKFLOWS = path.join(ROOT, 'workflows', 'index.ts');
export const WORKFLOW_INTERCEPTORS = path.join(ROOT, 'workflows', 'interceptors.ts');

const quiet = { log() {}, info() {}, warn() {}, error: console.error, debug() {}, trace() {} };

/**
 * The workflow bundle the worker runs, built from the sources as scripts/bundle-workflows.js
 * builds it from dist/: the workflows with the workflow interceptors module. Another entry
 * module (a test variant of the workflows) can take the place of workflows/index.ts.
 */
export function bundleWorkflows(workflowsPath: string = WORKFLOWS): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [WORKFLOW_INTERCEPTORS], logger: quiet });
}

/**
 * The workflows' bundle for a test file: the one `npm test` built once for the whole run
 * (test/support/globalSetup.ts, TEST_WORKFLOW_BUNDLE), or one built now when the file runs
 * on its own project (`npm run test:workflows`, `npm run test:replay`).
 */
export async function workflowsBundle(): Promise<WorkflowBundle> {
  const built = process.env.TEST_WORKFLOW_BUNDLE;
  return built && existsSync(built) ? { code: readFileSync(built, 'utf8') } : bundleWorkflows();
}
