import { ActivityFailure, ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { RunSummary, WriteBackInput } from '../src/shared';
import { SyncDirection, SyncTable } from '../src/temporal/searchAttributes';
import { core, legacy } from './activities';
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
      // A batch smaller than asked for drained the outbox: no empty round to find that out.
      if ((await writeBackBatch(`${plan.runId}#${n}`, plan.runId, { batchSize: plan.batchSize })) < plan.batchSize) break;
    }
  });
  return summary;
}

/** One batch (of the outbox, or of the given orders); the number of outbox entries or orders it took. A vanished claim means planning again. */
export async function writeBackBatch(batchKey: string, runId: string, take: { batchSize: number } | { orderIds: number[] }): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const planned = await core.planWriteBack({ batchKey, ...take });
      if (planned.count === 0) return 0;
      if (planned.writes > 0) await legacy.writeLegacy({ batchKey });
      await core.recordWriteBack({ batchKey, runId, legacyWritten: planned.writes > 0 });
      return planned.count;
    } catch (err) {
      const claimGone = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ClaimMissing';
      if (!claimGone || attempt >= CLAIM_LOSSES) throw err;
    }
  }
}
