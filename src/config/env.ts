import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_EUDC_MAP_PATH } from '../encoding/eudc';
import { z } from 'zod';
import { CONFIG_DIR, PROJECT_ROOT } from '../paths';
import { legacyQueueBeside } from '../shared';
import { endpointsFile, stackSettingsFromEnv } from '../stack/settings';

/**
 * Runtime settings, validated once here. Variables set in the environment win; otherwise the
 * endpoints `luckygas-sync stack up` recorded for the local stack are used.
 */

/** A file the process must read (a certificate or key): named at start-up when missing. */
const readableFile = z.string().refine((f) => existsSync(f), { message: 'no such file' });

const settings = z
  .object({
  LEGACY_DB_PATH: z.string().min(1).default(path.join(PROJECT_ROOT, '.data', 'legacy', 'luckygas.db')),
  DATABASE_URL: z.string().url({ message: 'DATABASE_URL must be a postgresql:// URL' }),
  REDIS_URL: z.string().url({ message: 'REDIS_URL must be a redis:// or rediss:// URL' }),
  TEMPORAL_ADDRESS: z.string().min(1),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('luckygas-sync'),
  /**
   * Every activity that opens the legacy file runs here, served by the legacy agent (worker
   * --role legacy). Unset: luckygas-legacy beside the default luckygas-sync, else the sync
   * task queue's name with -legacy, so that installs on other task queues never share an agent.
   */
  TEMPORAL_LEGACY_TASK_QUEUE: z.string().min(1).optional(),
  TEMPORAL_UI_URL: z.string().optional(),
  SYNC_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(1440).default(5),
  SYNC_CRON: z.string().optional(),
  SYNC_TABLES_CONFIG: z.string().default(path.join(CONFIG_DIR, 'tables.json')),
  /** The EUDC map (legacy private-use codes ↔ Unicode); the shipped config/eudc-map.json unless set. */
  EUDC_MAP_PATH: z.string().default(DEFAULT_EUDC_MAP_PATH),
  CLAIM_TTL_SECONDS: z.coerce.number().int().min(10).default(3600),
  /**
   * Threads preparing a table's first sync beside the thread that writes it: the load's rate
   * against the core worker's memory (each thread's heap is ~20 MB during a load; README, LOAD_THREADS).
   */
  LOAD_THREADS: z.coerce.number().int().min(0).max(16).default(2),
  /**
   * How far a worker's heap grows past what is live before a full collection, in percent: its
   * memory against its CPU (README, HEAP_GROWING_PERCENT). V8's own default is several times this.
   */
  HEAP_GROWING_PERCENT: z.coerce.number().int().min(10).max(400).default(25),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  MONITOR_PORT: z.coerce.number().int().min(0).max(65535).default(9090),
  /** mTLS to Temporal: the client certificate and key (PEM), the CA when not a public one. */
  TEMPORAL_TLS_CERT: readableFile.optional(),
  TEMPORAL_TLS_KEY: readableFile.optional(),
  TEMPORAL_TLS_CA: readableFile.optional(),
  /** The name in the server's certificate, when it is not the host of TEMPORAL_ADDRESS. */
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** The CA of a rediss:// server's certificate, when not a public one. */
  REDIS_TLS_CA: readableFile.optional(),
});

/** The legacy agent's task queue, when not set: beside the sync task queue (see TEMPORAL_LEGACY_TASK_QUEUE). */
const withLegacyQueue = <T extends { TEMPORAL_TASK_QUEUE: string; TEMPORAL_LEGACY_TASK_QUEUE?: string }>(e: T): T & { TEMPORAL_LEGACY_TASK_QUEUE: string } => ({
  ...e,
  TEMPORAL_LEGACY_TASK_QUEUE: e.TEMPORAL_LEGACY_TASK_QUEUE ?? legacyQueueBeside(e.TEMPORAL_TASK_QUEUE),
});

const tlsPair = <T extends { TEMPORAL_TLS_CERT?: string; TEMPORAL_TLS_KEY?: string }>(e: T) => !e.TEMPORAL_TLS_CERT === !e.TEMPORAL_TLS_KEY;
const tlsPairIssue = { message: 'set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY, or neither', path: ['TEMPORAL_TLS_KEY'] };
const envSchema = settings.refine(tlsPair, tlsPairIssue).transform(withLegacyQueue);
/** The legacy agent's settings: it reaches Temporal and Redis only, so no DATABASE_URL is needed. */
const legacyEnvSchema = settings.extend({ DATABASE_URL: z.string().optional() }).refine(tlsPair, tlsPairIssue).transform(withLegacyQueue);

export type AppEnv = z.infer<typeof envSchema>;
export type LegacyEnv = z.infer<typeof legacyEnvSchema>;

export class ConfigError extends Error {}

/** The local stack's endpoints, when it was started from this checkout. */
function stackEndpoints(env: NodeJS.ProcessEnv): Record<string, string> {
  try {
    const file = endpointsFile(stackSettingsFromEnv(env));
    if (!existsSync(file)) return {};
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

export function loadEnv(env: NodeJS.ProcessEnv = process.env): AppEnv {
  return parseEnv(envSchema, env);
}

export function loadLegacyEnv(env: NodeJS.ProcessEnv = process.env): LegacyEnv {
  return parseEnv(legacyEnvSchema, env);
}

function parseEnv<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const merged: Record<string, string | undefined> = { ...stackEndpoints(env) };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = i.path.join('.');
      return i.code === 'invalid_type' && i.received === 'undefined'
        ? `${name} is not set (start the local stack with \`luckygas-sync stack up\`, or set ${name})`
        : `${name}: ${i.message}`;
    });
    throw new ConfigError(`configuration error:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}
