import type { WorkflowBundle } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { bundleWorkflows } from '../support/workflowBundle';
import { quietRuntime } from '../support/workflowEnv';
import { readHistories } from './historyFiles';
import { replay } from './replayer';

/**
 * Determinism: every recorded history (test/replay/histories, from real runs) replays on the
 * workflow code as the worker bundles it (workflows with their interceptors module). A change
 * to what a workflow does that runs already started would not survive fails here, naming
 * the workflow type and the history; ship such a change behind patched() (docs/versioning.md).
 */

const histories = readHistories();
let bundle: WorkflowBundle;
beforeAll(async () => {
  quietRuntime();
  bundle = await bundleWorkflows();
});

it('has a recorded history of every workflow type the worker runs', () => {
  expect([...new Set(histories.map((h) => h.workflowType))].sort()).toEqual(Object.keys(workflows).sort());
});

it.each(histories.map((h) => [h.workflowType, h.file, h] as const))('%s replays %s', async (_type, _file, h) => {
  await replay(bundle, h);
});
