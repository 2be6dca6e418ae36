import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { AppEnv } from '../config/env';

/** TLS to Temporal when a CA or a client certificate is configured; mTLS with the certificate. */
export function temporalTls(env: AppEnv): TLSConfig | undefined {
  if (!env.TEMPORAL_TLS_CERT && !env.TEMPORAL_TLS_CA) return undefined;
  return {
    clientCertPair: env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY ? { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) } : undefined,
    serverRootCACertificate: env.TEMPORAL_TLS_CA ? readFileSync(env.TEMPORAL_TLS_CA) : undefined,
    serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME,
  };
}

export async function connectClient(env: AppEnv): Promise<Client> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS, tls: temporalTls(env), connectTimeout: '5 seconds' }).catch((err: Error) => {
    throw Object.assign(new Error(`cannot reach Temporal at ${env.TEMPORAL_ADDRESS}: ${err.message}`), { code: 'ECONNREFUSED' });
  });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

export async function connectWorker(env: AppEnv): Promise<NativeConnection> {
  return NativeConnection.connect({ address: env.TEMPORAL_ADDRESS, tls: temporalTls(env) }).catch((err: Error) => {
    throw Object.assign(new Error(`cannot reach Temporal at ${env.TEMPORAL_ADDRESS}: ${err.message}`), { code: 'ECONNREFUSED' });
  });
}
