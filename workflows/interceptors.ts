import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { DEFAULT_LEGACY_QUEUE, LEGACY_QUEUE_HEADER, legacyQueueBeside, TARGET_HEADER } from '../src/shared';

/**
 * Carries what the client that started a run put in its headers to everything the run does:
 * - the run's target (which legacy file and database the work is for), passed on to every
 *   activity, child workflow and continuation, so a worker serving another target refuses
 *   the work (see src/temporal/target.ts);
 * - the legacy agent's task queue: legacy activities are sent to the one the client named,
 *   else to the one beside this run's own task queue (workflow code names the default).
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  const carried: Record<string, Payload> = {};
  let legacyQueue: string | undefined;
  const pass = <I extends { headers: Record<string, Payload> }>(input: I): I => ({ ...input, headers: { ...input.headers, ...carried } });
  return {
    inbound: [
      {
        execute(input, next) {
          for (const h of [TARGET_HEADER, LEGACY_QUEUE_HEADER]) if (input.headers[h]) carried[h] = input.headers[h];
          if (carried[LEGACY_QUEUE_HEADER]) legacyQueue = defaultPayloadConverter.fromPayload<string>(carried[LEGACY_QUEUE_HEADER]);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity(input, next) {
          if (input.options.taskQueue !== DEFAULT_LEGACY_QUEUE) return next(pass(input));
          const taskQueue = legacyQueue ?? legacyQueueBeside(workflowInfo().taskQueue);
          return next(pass({ ...input, options: { ...input.options, taskQueue } }));
        },
        scheduleLocalActivity: (input, next) => next(pass(input)),
        startChildWorkflowExecution: (input, next) => next(pass(input)),
        continueAsNew: (input, next) => next(pass(input)),
      },
    ],
  };
};
