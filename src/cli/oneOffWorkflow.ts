import { ApplicationFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { AppEnv } from '../config/env';
import { DATABASE_CONFIG_ERROR } from '../db/configErrors';
import { connectClient } from '../temporal/connection';
import { rootMessage } from '../temporal/failures';
import { withWorkerIfNone } from '../temporal/inProcessWorker';
import { CliError, EXIT } from './output';

export interface WorkflowStart {
  workflowId: string;
  args: unknown[];
  /** Shown in the Web UI's list of runs. */
  summary: string;
}

/** What a command's work is given: the client, and a way to start a workflow on the task queue. */
export interface OneOff {
  client: Client;
  start(workflowType: string, run: WorkflowStart): Promise<WorkflowHandle>;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A failure of the configuration is the operator's to fix (exit 2); any other, the work's (exit 1). */
function exitCodeOf(err: WorkflowFailedError): number {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && e.type === DATABASE_CONFIG_ERROR) return EXIT.usage;
  }
  return EXIT.failed;
}

/**
 * Runs `work` against Temporal with a worker in this process when no lasting one polls the
 * task queue, then closes the connection. A workflow that fails is reported as "the <what>
 * failed", with the innermost reason.
 */
export async function runOneOff<T>(what: string, env: AppEnv, work: (oneOff: OneOff) => Promise<T>): Promise<T> {
  const client = await connectClient(env);
  const start = async (workflowType: string, run: WorkflowStart) => {
    const handle = await client.workflow.start(workflowType, { taskQueue: env.TEMPORAL_TASK_QUEUE, workflowId: run.workflowId, args: run.args, staticSummary: run.summary });
    log(`started ${run.workflowId}`);
    return handle;
  };
  try {
    return await withWorkerIfNone(client, env, () => work({ client, start }), log);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new CliError(`the ${what} failed: ${rootMessage(err)}`, exitCodeOf(err));
    throw err;
  } finally {
    await client.connection.close();
  }
}

/** One workflow, started and awaited: its result. */
export function runOneWorkflow<T>(what: string, env: AppEnv, workflowType: string, run: WorkflowStart): Promise<T> {
  return runOneOff(what, env, async ({ start }) => (await start(workflowType, run)).result() as Promise<T>);
}

/** Where the Web UI shows a workflow, when the local stack's UI is known. */
export function webUiLink(env: AppEnv, workflowId: string): string | null {
  return env.TEMPORAL_UI_URL ? `${env.TEMPORAL_UI_URL}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}` : null;
}
