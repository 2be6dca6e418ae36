import pino from 'pino';

/**
 * Structured JSON logs on stderr (stdout stays for command output such as --json); LOG_LEVEL
 * picks the level. Secrets (URLs with passwords) are redacted.
 */
export const logger = pino(
  {
  name: 'luckygas-sync',
  level: process.env.LOG_LEVEL || 'info',
  redact: { paths: ['databaseUrl', 'redisUrl', '*.password', 'DATABASE_URL', 'REDIS_URL'], censor: '[redacted]' },
  },
  pino.destination(2),
);

export type Logger = pino.Logger;
