import path from 'node:path';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { HISTORY_DIR, type RecordedHistory } from './historyFiles';

/**
 * Replays recorded histories on a workflow bundle, as a worker would replay them after a
 * restart on new code: all on one replay worker (one worker per history cost more than the
 * replays). The outcome of each, in the order given: null, or an error naming the workflow
 * type and the history file, with the SDK's account of the first command that differs.
 */
export async function replayAll(bundle: WorkflowBundle, histories: RecordedHistory[]): Promise<(Error | null)[]> {
  const outcomes: (Error | null)[] = [];
  const replays = Worker.runReplayHistories(
    { workflowBundle: bundle },
    histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
  );
  for await (const r of replays) {
    const h = histories[outcomes.length];
    if (r.workflowId !== h.workflowId) throw new Error(`replayed ${r.workflowId} where ${h.file} (${h.workflowId}) was expected`);
    const file = path.relative(process.cwd(), path.join(HISTORY_DIR, h.file));
    outcomes.push(r.error ? new Error(`${h.workflowType} cannot replay ${file} (a run started by earlier code): ${r.error.message}`, { cause: r.error }) : null);
  }
  if (outcomes.length !== histories.length) throw new Error(`${outcomes.length} of ${histories.length} histories replayed`);
  return outcomes;
}
