import path from 'node:path';
import * as workflows from '../../workflows';
import { bundleWorkflows } from '../support/workflowBundle';
import { quietRuntime } from '../support/workflowEnv';
import { readHistories } from './historyFiles';
import { replayAll } from './replayer';
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
let outcomes: { guarded: (Error | null)[]; unguarded: (Error | null)[] };
beforeAll(async () => {
  quietRuntime();
  const [g, u] = await Promise.all([bundleWorkflows(path.join(__dirname, 'variants', 'guarded.ts')), bundleWorkflows(path.join(__dirname, 'variants', 'unguarded.ts'))]);
  outcomes = { guarded: await replayAll(g, histories), unguarded: await replayAll(u, histories) };
});

it('changes every workflow the worker runs', () => {
  expect(Object.keys(guarded).sort()).toEqual(Object.keys(workflows).sort());
  expect(Object.keys(unguarded).sort()).toEqual(Object.keys(workflows).sort());
});

describe.each(histories.map((h, i) => [h.workflowType, h.file, i] as const))('%s, recorded in %s', (type, file, i) => {
  it('replays on the change guarded by patched()', () => {
    if (outcomes.guarded[i]) throw outcomes.guarded[i];
  });

  it('fails on the change unguarded, naming the workflow type and the history', () => {
    const err = outcomes.unguarded[i];
    expect(err).not.toBeNull();
    expect(err!.message).toContain(`${type} cannot replay test/replay/histories/${file}`);
    // The SDK's own reason: the run's history does not have the command the code now gives.
    expect(err!.message).toMatch(/[Nn]ondetermin/);
  });
});
