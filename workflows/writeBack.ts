import { ActivityFailure, ApplicationFailure, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { RunSummary, TableSyncPlan } from '../activities/legacyToNew';
import { SyncDirection, SyncTable } from '../src/temporal/searchAttributes';
import { batchSteps, bookkeeping } from './activities';
import { recordedRun } from './recordedRun';

/**
 * New → legacy for deliveries: drains the orders outbox batch by batch, fetch → write back
 * (convert, reconcile, write), like the other direction. Each write-back writes the legacy file
 * in one short transaction; no lock is held between activities.
 */

export interface WriteBackInput {
  parentId?: string;
  /** Made by the cycle's planCycle, which then recorded the run already. */
  plan?: TableSyncPlan;
}

const MAX_BATCHES = 200;

export async function WriteBackWorkflow(input: WriteBackInput = {}): Promise<RunSummary> {
  const { workflowId } = workflowInfo();
  upsertSearchAttributes([
    { key: SyncTable, value: 'deliveries' },
    { key: SyncDirection, value: 'new-to-legacy' },
  ]);
  const plan = input.plan ?? await bookkeeping.beginTableSync({ table: 'deliveries', direction: 'new-to-legacy', workflowId, parentId: input.parentId, kind: 'table' });
  return recordedRun(plan.runId, async () => {
    // Bounded: what arrives during the run waits for the next cycle.
    for (let n = 0; n < MAX_BATCHES; n++) {
      const batchKey = `${plan.runId}#${n}`;
      // A batch smaller than asked for drained the outbox: no empty fetch to find that out.
      if ((await writeBackBatch(batchKey, plan.runId, plan.batchSize)) < plan.batchSize) break;
    }
  });
}

/** One batch; the number of outbox entries it took. A vanished claim means fetching again. */
async function writeBackBatch(batchKey: string, runId: string, batchSize: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const fetched = await batchSteps.fetchOutbox({ batchKey, batchSize });
      if (fetched.count === 0) return 0;
      await batchSteps.writeBackBatch({ batchKey, runId });
      return fetched.count;
    } catch (err) {
      const claimGone = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ClaimMissing';
      if (!claimGone || attempt >= 5) throw err;
    }
  }
}
