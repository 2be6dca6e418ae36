/** The failure type activities give a DATABASE_URL that PostgreSQL refuses, so callers can tell it apart. */
export const DATABASE_CONFIG_ERROR = 'DatabaseConfigError';

/**
 * SQLSTATEs no retry can fix: the database does not exist, the password is wrong, the role
 * is not allowed in. Prisma's driver adapter keeps the SQLSTATE in its error's meta.
 */
const CONFIG_SQLSTATES = new Set(['3D000', '28P01', '28000']);

interface PgLike {
  code?: unknown;
  message?: string;
  meta?: { driverAdapterError?: { cause?: { originalCode?: string; originalMessage?: string } } };
}

/** The URL with its password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * When PostgreSQL refused DATABASE_URL itself (pg or Prisma), a message that says so and names
 * the setting (password masked); null for any other error.
 */
export function databaseConfigError(err: unknown, databaseUrl?: string): string | null {
  const e = err as PgLike | null;
  if (!e || typeof e !== 'object') return null;
  const adapter = e.meta?.driverAdapterError?.cause;
  const code = adapter?.originalCode ?? (typeof e.code === 'string' ? e.code : undefined);
  if (!code || !CONFIG_SQLSTATES.has(code)) return null;
  const reason = adapter?.originalMessage ?? e.message ?? code;
  return `PostgreSQL refused DATABASE_URL${databaseUrl ? ` (${redactUrl(databaseUrl)})` : ''}: ${reason}`;
}
