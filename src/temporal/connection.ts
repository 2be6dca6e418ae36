import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { AppEnv } from '../config/env';

/** mTLS to Temporal when TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY name a client certificate. */
function tlsOptions() {
  const cert = process.env.TEMPORAL_TLS_CERT;
  const key = process.env.TEMPORAL_TLS_KEY;
  if (!cert || !key) return undefined;
  const ca = process.env.TEMPORAL_TLS_CA;
  return {
    clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) },
    serverRootCACertificate: ca ? readFileSync(ca) : undefined,
  };
}

export async function connectClient(env: AppEnv): Promise<Client> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS, tls: tlsOptions(), connectTimeout: '5 seconds' }).catch((err: Error) => {
    throw Object.assign(new Error(`cannot reach Temporal at ${env.TEMPORAL_ADDRESS}: ${err.message}`), { code: 'ECONNREFUSED' });
  });
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

export async function connectWorker(env: AppEnv): Promise<NativeConnection> {
  return NativeConnection.connect({ address: env.TEMPORAL_ADDRESS, tls: tlsOptions() }).catch((err: Error) => {
    throw Object.assign(new Error(`cannot reach Temporal at ${env.TEMPORAL_ADDRESS}: ${err.message}`), { code: 'ECONNREFUSED' });
  });
}
