import pino from 'pino';
import { prettyFactory } from 'pino-pretty';
import { z } from 'zod';
import { ConfigError } from './config/env';

/**
 * Logs on stderr (stdout stays for command output such as --json); LOG_LEVEL picks the level.
 * Secrets (URLs with passwords) are redacted before either format sees them.
 *
 * Format: `pretty` (one short line per entry: time, level, message, fields) or `json` (one
 * object per line, for log collectors). Chosen by the `--log-format` option, else LOG_FORMAT,
 * else pretty when stderr is a terminal and JSON when it is not.
 */

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const logFormatSchema = z.enum(LOG_FORMATS);

/** The format `value` names (`source` says where it came from, for the error); unset: by terminal. */
export function resolveLogFormat(value: string | undefined, source: string, stderrIsTTY = Boolean(process.stderr.isTTY)): LogFormat {
  if (value === undefined || value.trim() === '') return stderrIsTTY ? 'pretty' : 'json';
  const parsed = logFormatSchema.safeParse(value.trim());
  if (!parsed.success) throw new ConfigError(`${source} must be one of ${LOG_FORMATS.join(', ')}, not '${value}'`);
  return parsed.data;
}

function initialFormat(): LogFormat {
  try {
    return resolveLogFormat(process.env.LOG_FORMAT, 'LOG_FORMAT');
  } catch {
    // Importing must not throw; the CLI validates LOG_FORMAT before any command runs.
    return resolveLogFormat(undefined, 'LOG_FORMAT');
  }
}

let format: LogFormat = initialFormat();
// Synchronous, so nothing is lost when a command exits right after logging.
let destination = pino.destination({ dest: 2, sync: true });
const prettify = prettyFactory({
  colorize: Boolean(process.stderr.isTTY),
  translateTime: 'SYS:HH:MM:ss',
  ignore: 'pid,hostname,name',
  singleLine: true,
});

export const logger = pino(
  {
    name: 'luckygas-sync',
    level: process.env.LOG_LEVEL || 'info',
    redact: { paths: ['databaseUrl', 'redisUrl', '*.password', 'DATABASE_URL', 'REDIS_URL'], censor: '[redacted]' },
  },
  { write: (line: string) => destination.write(format === 'pretty' ? prettify(line) : line) },
);

export function setLogFormat(f: LogFormat): void {
  format = f;
}

export function logFormat(): LogFormat {
  return format;
}

/**
 * From now on, logs go to `file` (appended, JSON) instead of stderr: for a command whose own
 * output is for people, such as the demo, where a worker runs in the same process.
 */
export function logToFile(file: string): void {
  destination = pino.destination({ dest: file, sync: true, mkdir: true, append: true });
  format = 'json';
}

export type Logger = pino.Logger;
