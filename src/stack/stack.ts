import { PROJECT_ROOT } from '../paths';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, runAsync } from './processes';
import { postgresClusterDir, postgresRunning, startPostgres, stopPostgres } from './postgres';
import { redisRunning, startRedis, stopRedis } from './redis';
import { endpointsFile, localEndpoints, type StackEndpoints, type StackSettings } from './settings';
import { resolveTemporalCli, startTemporal, stopTemporal, temporalRunning } from './temporal';
import { SEARCH_ATTRIBUTES } from '../temporal/searchAttributes';

/**
 * The local stack: Temporal dev server, PostgreSQL and Redis under one data folder, each
 * skipped when the environment points at an existing service. Every step is idempotent.
 */

export type ServiceState = 'running' | 'stopped' | 'external';

export interface StackStatus {
  dataDir: string;
  /** The local PostgreSQL cluster's folder, when it is not under the data folder (which the postgres user cannot reach). */
  postgresCluster?: string;
  services: { temporal: ServiceState; postgres: ServiceState; redis: ServiceState };
  endpoints: StackEndpoints;
}

export async function stackUp(s: StackSettings, log: (line: string) => void = () => {}): Promise<StackEndpoints> {
  mkdirSync(s.dataDir, { recursive: true });
  const endpoints = localEndpoints(s);
  if (!s.external.databaseUrl) {
    log(`postgres: starting on 127.0.0.1:${s.pgPort}`);
    startPostgres(s);
  }
  // Prisma's migrate takes seconds: it runs while Redis and Temporal start.
  log('postgres: applying migrations (prisma migrate deploy)');
  const migrated = migrate(endpoints.DATABASE_URL);
  migrated.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
  if (!s.external.redisUrl) {
    log(`redis: starting on 127.0.0.1:${s.redisPort}`);
    await startRedis(s);
  }
  if (!s.external.temporalAddress) {
    log(`temporal: starting on 127.0.0.1:${s.temporalPort} (Web UI ${endpoints.TEMPORAL_UI_URL})`);
    await startTemporal(s);
  } else {
    registerSearchAttributes(s, s.external.temporalAddress);
  }
  await migrated;
  // Only what is known: an external Temporal has no local Web UI (null is not a setting).
  writeFileSync(endpointsFile(s), JSON.stringify(Object.fromEntries(Object.entries(endpoints).filter(([, v]) => v !== null)), null, 2));
  return endpoints;
}

export async function stackDown(s: StackSettings, log: (line: string) => void = () => {}): Promise<void> {
  log('temporal: stopping');
  await stopTemporal(s);
  log('redis: stopping');
  await stopRedis(s);
  log('postgres: stopping');
  stopPostgres(s);
  rmSync(endpointsFile(s), { force: true });
}

export function stackStatus(s: StackSettings): StackStatus {
  const state = (external: string | undefined, running: () => boolean): ServiceState =>
    external ? 'external' : running() ? 'running' : 'stopped';
  const cluster = s.external.databaseUrl ? null : postgresClusterDir(s);
  return {
    dataDir: s.dataDir,
    ...(cluster && cluster !== path.join(s.dataDir, 'postgres') ? { postgresCluster: cluster } : {}),
    services: {
      temporal: state(s.external.temporalAddress, () => temporalRunning(s)),
      postgres: state(s.external.databaseUrl, () => postgresRunning(s)),
      redis: state(s.external.redisUrl, () => redisRunning(s)),
    },
    endpoints: localEndpoints(s),
  };
}

/** Applies the committed migrations with Prisma's Wasm schema engine (prisma.config.ts). */
export async function migrate(databaseUrl: string): Promise<void> {
  await runAsync(process.execPath, [path.join('node_modules', 'prisma', 'build', 'index.js'), 'migrate', 'deploy'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
}

/** A server the user runs: register the search attributes the sync sets (already there is fine). */
function registerSearchAttributes(s: StackSettings, address: string): void {
  const cli = resolveTemporalCli(s);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    try {
      run(cli, ['operator', 'search-attribute', 'create', '--name', name, '--type', type, '--address', address]);
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
  }
}
