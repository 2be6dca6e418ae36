import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths';
import { StackError } from './processes';


const port = z.coerce.number().int().min(1).max(65535);

const stackEnvSchema = z.object({
  LUCKYGAS_DATA_DIR: z.string().min(1).default(path.join(PROJECT_ROOT, '.data')),
  LUCKYGAS_PG_PORT: port.default(55432),
  LUCKYGAS_REDIS_PORT: port.default(56379),
  LUCKYGAS_TEMPORAL_PORT: port.default(7233),
  LUCKYGAS_TEMPORAL_UI_PORT: port.default(8233),
  PG_BIN_DIR: z.string().default('/usr/lib/postgresql/15/bin'),
  DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
});

/** Where the local stack lives and listens; several stacks run side by side with other values. */
export interface StackSettings {
  dataDir: string;
  pgPort: number;
  redisPort: number;
  temporalPort: number;
  temporalUiPort: number;
  pgBinDir: string;
  /** Services the user runs elsewhere: the stack leaves them alone. */
  external: { databaseUrl?: string; redisUrl?: string; temporalAddress?: string };
  temporalCliPath?: string;
}

export function stackSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): StackSettings {
  // An empty variable means unset, as in a shell.
  const parsed = stackEnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new StackError(`invalid stack settings in the environment: ${issues}`);
  }
  const e = parsed.data;
  return {
    dataDir: path.resolve(e.LUCKYGAS_DATA_DIR),
    pgPort: e.LUCKYGAS_PG_PORT,
    redisPort: e.LUCKYGAS_REDIS_PORT,
    temporalPort: e.LUCKYGAS_TEMPORAL_PORT,
    temporalUiPort: e.LUCKYGAS_TEMPORAL_UI_PORT,
    pgBinDir: e.PG_BIN_DIR,
    external: { databaseUrl: e.DATABASE_URL, redisUrl: e.REDIS_URL, temporalAddress: e.TEMPORAL_ADDRESS },
    temporalCliPath: e.TEMPORAL_CLI_PATH,
  };
}

/** What a client needs to reach the stack. */
export interface StackEndpoints {
  DATABASE_URL: string;
  REDIS_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_UI_URL: string | null;
}

export const LOCAL_DB_USER = 'luckygas';
export const LOCAL_DB_NAME = 'luckygas';

export function localEndpoints(s: StackSettings): StackEndpoints {
  return {
    DATABASE_URL: s.external.databaseUrl ?? `postgresql://${LOCAL_DB_USER}@127.0.0.1:${s.pgPort}/${LOCAL_DB_NAME}`,
    REDIS_URL: s.external.redisUrl ?? `redis://127.0.0.1:${s.redisPort}`,
    TEMPORAL_ADDRESS: s.external.temporalAddress ?? `127.0.0.1:${s.temporalPort}`,
    TEMPORAL_UI_URL: s.external.temporalAddress ? null : `http://127.0.0.1:${s.temporalUiPort}`,
  };
}

/** The file `stack up` writes so that later commands find the stack without exported variables. */
export function endpointsFile(s: StackSettings): string {
  return path.join(s.dataDir, 'stack.json');
}
