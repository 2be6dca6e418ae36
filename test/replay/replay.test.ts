import * as workflows from '../../workflows';
import { workflowsBundle } from '../support/workflowBundle';
import { quietRuntime } from '../support/workflowEnv';
import { readHistories } from './historyFiles';
import { replayAll } from './replayer';

/**
 * Determinism: every recorded history (test/replay/histories, from real runs) replays on the
 * workflow code as the worker bundles it (workflows with their interceptors module). A change
 * to what a workflow does that runs already started would not survive fails here, naming
 * the workflow type and the history; ship such a change behind patched() (docs/versioning.md).
 */

const histories = readHistories();
let outcomes: (Error | null)[];
beforeAll(async () => {
  quietRuntime();
  outcomes = await replayAll(await workflowsBundle(), histories);
});

it('has a recorded history of every workflow type the worker runs', () => {
  expect([...new Set(histories.map((h) => h.workflowType))].sort()).toEqual(Object.keys(workflows).sort());
});

it.each(histories.map((h, i) => [h.workflowType, h.file, i] as const))('%s replays %s', (_type, _file, i) => {
  if (outcomes[i]) throw outcomes[i];
});
