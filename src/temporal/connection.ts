import { readFileSync } from 'node:fs';
import { Client, Connection, type ScheduleClientInterceptor, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import type { LegacyEnv } from '../config/env';
import { LEGACY_QUEUE_HEADER, TARGET_HEADER, type Target } from '../shared';

/** TLS to Temporal when a CA or a client certificate is configured; mTLS with the certificate. */
export function temporalTls(env: LegacyEnv): TLSConfig | undefined {
  if (!env.TEMPORAL_TLS_CERT && !env.TEMPORAL_TLS_CA) return undefined;
  return {
    clientCertPair: env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY ? { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) } : undefined,
    serverRootCACertificate: env.TEMPORAL_TLS_CA ? readFileSync(env.TEMPORAL_TLS_CA) : undefined,
    serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME,
  };
}

/**
 * Puts the work's target, and the legacy agent's task queue, in the headers of every workflow
 * this client starts and of every schedule's workflows (see workflows/interceptors.ts).
 */
function targetInterceptors(target: Target, legacyQueue: string): { workflow: WorkflowClientInterceptor[]; schedule: ScheduleClientInterceptor[] } {
  const headers = { [TARGET_HEADER]: defaultPayloadConverter.toPayload(target), [LEGACY_QUEUE_HEADER]: defaultPayloadConverter.toPayload(legacyQueue) };
  const withTarget = <I extends { headers: Record<string, unknown> }>(input: I): I => ({ ...input, headers: { ...input.headers, ...headers } });
  return {
    workflow: [
      {
        start: (input, next) => next(withTarget(input)),
        startWithDetails: (input, next) => next(withTarget(input)),
        signalWithStart: (input, next) => next(withTarget(input)),
      },
    ],
    schedule: [{ create: (input, next) => next(withTarget(input)) }],
  };
}

/** A client for the work of this target (or for none: reading, signalling, describing). */
export async function connectClient(env: LegacyEnv, target?: Target): Promise<Client> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS, tls: temporalTls(env), connectTimeout: '5 seconds' }).catch((err: Error) => {
    throw Object.assign(new Error(`cannot reach Temporal at ${env.TEMPORAL_ADDRESS}: ${err.message}`), { code: 'ECONNREFUSED' });
  });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, ...(target ? { interceptors: targetInterceptors(target, env.TEMPORAL_LEGACY_TASK_QUEUE) } : {}) });
}

export async function connectWorker(env: LegacyEnv): Promise<NativeConnection> {
  // Loaded here, not at the top: commands that start no worker start faster without it.
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect({ address: env.TEMPORAL_ADDRESS, tls: temporalTls(env) }).catch((err: Error) => {
    throw Object.assign(new Error(`cannot reach Temporal at ${env.TEMPORAL_ADDRESS}: ${err.message}`), { code: 'ECONNREFUSED' });
  });
}
