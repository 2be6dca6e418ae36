import { upsertSearchAttributes } from '@temporalio/workflow';
import type { RunSummary, WriteBackInput } from '../src/shared';
import { SyncDirection, SyncTable } from '../src/temporal/searchAttributes';
import type { CoreActivities } from '../activities/core';
import { batchSteps, claimGone, legacy } from './activities';
import { recordedRun } from './runs';

/**
 * New → legacy for deliveries: drains the orders outbox batch by batch. Each batch is three
 * steps: a core worker plans it (orders converted to CP950, each with what legacy must still
 * hold), the legacy agent writes it in one short transaction, a core worker records it in
 * PostgreSQL. No lock is held between the steps; a legacy row changed meanwhile is left to
 * the next legacy → new pass, which merges both changes.
 */

const MAX_BATCHES = 200;
const CLAIM_LOSSES = 5;

export async function WriteBackWorkflow(input: WriteBackInput): Promise<RunSummary> {
  const { plan } = input;
  upsertSearchAttributes([
    { key: SyncTable, value: plan.table },
    { key: SyncDirection, value: 'new-to-legacy' },
  ]);
  const { summary } = await recordedRun(plan.runId, async () => {
    // Bounded: what arrives during the run waits for the next cycle.
    for (let n = 0; n < MAX_BATCHES; n++) {
      if (!(await writeBackBatch(batchSteps(), `${plan.runId}#${n}`, plan.runId, { batchSize: plan.batchSize })).more) break;
    }
  });
  return summary;
}

/**
 * One batch (of the outbox, or of the given orders), and whether the outbox holds more. A
 * vanished claim means planning again. A plan recorded without `more` (histories from before
 * it) falls back to "a full batch may have left more", so those runs replay as they ran.
 */
export async function writeBackBatch(steps: CoreActivities, batchKey: string, runId: string, take: { batchSize: number } | { orderIds: number[] }): Promise<{ more: boolean }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const planned = await steps.planWriteBack({ batchKey, ...take });
      const more = (planned.more as boolean | undefined) ?? ('batchSize' in take && planned.count >= take.batchSize);
      if (planned.count === 0) return { more: false };
      if (planned.writes > 0) await legacy.writeLegacy({ batchKey });
      await steps.recordWriteBack({ batchKey, runId, legacyWritten: planned.writes > 0 });
      return { more };
    } catch (err) {
      if (!claimGone(err) || attempt >= CLAIM_LOSSES) throw err;
    }
  }
}
