import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundle } from '@temporalio/worker';
import { EXTRA_STEP_PATCH } from '../replay/variants/extraStep';
import { bundleWorkflows } from '../support/workflowBundle';
import { timeSkippingEnv, withStubWorkers } from '../support/workflowEnv';

/**
 * The other half of test/replay/versioning.test.ts: a run started on the code with a patched()
 * change takes the new path and records the patch's marker (so it, in turn, replays the new
 * path), while runs recorded before the change replay the old one.
 */

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  [env, bundle] = await Promise.all([timeSkippingEnv(), bundleWorkflows(path.resolve(__dirname, '../replay/variants/guarded.ts'))]);
});
afterAll(async () => env?.teardown());

it('a run started on the patched code takes the new step and records the patch marker', async () => {
  const log: string[] = [];
  const legacy = {
    async countLegacy(input: { table: string }) {
      log.push(`countLegacy ${input.table}`);
      return 0;
    },
    async installTriggers(input: { tables: string[] }) {
      log.push(`installTriggers ${input.tables.join(',')}`);
      return ['trg_drivers_insert'];
    },
  };
  const history = await withStubWorkers(env, bundle, { legacy }, async (taskQueue) => {
    const handle = await env.client.workflow.start('LegacyTriggersWorkflow', { taskQueue, workflowId: 'legacy-triggers/install/versioning', args: [{ action: 'install', tables: ['drivers'] }] });
    expect(await handle.result()).toEqual(['trg_drivers_insert']);
    return handle.fetchHistory();
  });
  expect(log).toEqual(['countLegacy deliveries', 'installTriggers drivers']);
  const markers = (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_MARKER_RECORDED);
  expect(markers).toHaveLength(1);
  const marker = markers[0].markerRecordedEventAttributes;
  expect(marker?.markerName).toBe('core_patch');
  const data = marker?.details?.['patch-data']?.payloads?.[0]?.data;
  expect(JSON.parse(Buffer.from(data ?? []).toString())).toEqual({ id: EXTRA_STEP_PATCH, deprecated: false });
});
