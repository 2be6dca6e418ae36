import path from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { bundleWorkflows } from '../support/workflowBundle';
import { quietRuntime } from '../support/workflowEnv';
import { readHistories } from './historyFiles';
import { replay } from './replayer';
import * as guarded from './variants/guarded';
import * as unguarded from './variants/unguarded';

/**
 * How workflow changes ship (docs/versioning.md): a change to a workflow's commands is
 * guarded by patched(), so a run started by the old code replays, and goes on, on the new.
 * Here every workflow gets an extra activity call before its work (variants/extraStep.ts):
 * guarded, every recorded history replays; unguarded, every one fails naming its workflow
 * type and history file.
 */

const histories = readHistories();
let bundles: { guarded: WorkflowBundle; unguarded: WorkflowBundle };
beforeAll(async () => {
  quietRuntime();
  const [g, u] = await Promise.all([bundleWorkflows(path.join(__dirname, 'variants', 'guarded.ts')), bundleWorkflows(path.join(__dirname, 'variants', 'unguarded.ts'))]);
  bundles = { guarded: g, unguarded: u };
});

it('changes every workflow the worker runs', () => {
  expect(Object.keys(guarded).sort()).toEqual(Object.keys(workflows).sort());
  expect(Object.keys(unguarded).sort()).toEqual(Object.keys(workflows).sort());
});

describe.each(histories.map((h) => [h.workflowType, h.file, h] as const))('%s, recorded in %s', (type, file, h) => {
  it('replays on the change guarded by patched()', async () => {
    await replay(bundles.guarded, h);
  });

  it('fails on the change unguarded, naming the workflow type and the history', async () => {
    const err = await replay(bundles.unguarded, h).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toContain(`${type} cannot replay test/replay/histories/${file}`);
    // The SDK's own reason: the run's history does not have the command the code now gives.
    expect(err!.message).toMatch(/[Nn]ondetermin/);
  });
});
