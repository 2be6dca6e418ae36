import { ApplicationFailure, WorkflowFailedError, type Client, type WorkflowHandle, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow, WorkflowResultType } from '@temporalio/common';
import type { AppEnv } from '../config/env';
import { DATABASE_CONFIG_ERROR } from '../db/configErrors';
import { connectClient } from '../temporal/connection';
import { rootMessage } from '../temporal/failures';
import { withWorkerIfNone } from '../temporal/inProcessWorker';
import { targetOf } from '../temporal/target';
import { CliError, EXIT } from './output';

export interface WorkflowStart<W extends Workflow> {
  workflowId: string;
  args: Parameters<W>;
  /** Shown in the Web UI's list of runs. */
  summary: string;
}

/** What a command's work is given: the client, and a way to start a workflow (by reference) for this installation's target. */
export interface OneOff {
  client: Client;
  start<W extends Workflow>(workflow: W, run: WorkflowStart<W>): Promise<WorkflowHandle<W>>;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A failure of the configuration is the operator's to fix (exit 2); any other, the work's (exit 1). */
function exitCodeOf(err: WorkflowFailedError): number {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && (e.type === DATABASE_CONFIG_ERROR || e.type === 'ConfigError' || e.type === 'WrongTarget')) return EXIT.usage;
  }
  return EXIT.failed;
}

/** A client whose workflows carry this installation's target (its legacy file and database). */
export function connectForWork(env: AppEnv): Promise<Client> {
  return connectClient(env, targetOf(env, 'all'));
}

/** What the workflow's own failure carries (a cycle's per-table summary). */
function failureDetails(err: WorkflowFailedError): unknown {
  return err.cause instanceof ApplicationFailure ? err.cause.details?.[0] : undefined;
}

/**
 * Runs `work` against Temporal, with workers in this process for the task queues no lasting
 * worker polls, then closes the connection. A workflow that fails is reported as "the <what>
 * failed", with the innermost reason.
 */
export async function runOneOff<T>(what: string, env: AppEnv, work: (oneOff: OneOff) => Promise<T>): Promise<T> {
  const client = await connectForWork(env);
  const start = async <W extends Workflow>(workflow: W, run: WorkflowStart<W>): Promise<WorkflowHandle<W>> => {
    const options = { taskQueue: env.TEMPORAL_TASK_QUEUE, workflowId: run.workflowId, args: run.args, staticSummary: run.summary } as unknown as WorkflowStartOptions<W>;
    const handle = await client.workflow.start(workflow, options);
    log(`started ${run.workflowId}`);
    return handle;
  };
  try {
    return await withWorkerIfNone(client, env, () => work({ client, start }), log);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new CliError(`the ${what} failed: ${rootMessage(err)}`, exitCodeOf(err), failureDetails(err));
    throw err;
  } finally {
    await client.connection.close();
  }
}

/** One workflow, started and awaited: its result. */
export function runOneWorkflow<W extends Workflow>(what: string, env: AppEnv, workflow: W, run: WorkflowStart<W>): Promise<WorkflowResultType<W>> {
  return runOneOff<WorkflowResultType<W>>(what, env, async ({ start }) => (await start(workflow, run)).result());
}

/** Where the Web UI shows a workflow, when the local stack's UI is known. */
export function webUiLink(env: AppEnv, workflowId: string): string | null {
  return env.TEMPORAL_UI_URL ? `${env.TEMPORAL_UI_URL}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}` : null;
}
