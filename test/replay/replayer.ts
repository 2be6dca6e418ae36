import path from 'node:path';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { HISTORY_DIR, type RecordedHistory } from './historyFiles';

/**
 * Replays a recorded history on a workflow bundle, as a worker would replay it after a
 * restart on new code. A history the code cannot replay fails naming the workflow type and
 * the history file, with the SDK's account of the first command that differs.
 */
export async function replay(bundle: WorkflowBundle, h: RecordedHistory): Promise<void> {
  try {
    await Worker.runReplayHistory({ workflowBundle: bundle }, h.history, h.workflowId);
  } catch (err) {
    const file = path.relative(process.cwd(), path.join(HISTORY_DIR, h.file));
    throw new Error(`${h.workflowType} cannot replay ${file} (a run started by earlier code): ${(err as Error).message}`, { cause: err });
  }
}
