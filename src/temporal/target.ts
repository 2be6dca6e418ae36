import path from 'node:path';
import { TARGET_HEADER, type Target } from '../shared';

/**
 * Which legacy file and which database a worker serves, and which ones a piece of work was
 * started for. Work carries its target in a header (set by the client and the schedule,
 * passed on by the workflows); an activity refuses work meant for another target, so a
 * worker left running for one file never syncs it into another command's database.
 */

export { TARGET_HEADER };

/** host:port/database of a PostgreSQL URL (no user, no password). */
export function databaseTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return 'unparseable DATABASE_URL';
  }
}

/** The legacy file as the agent names it: an absolute path (a Windows path is taken as given). */
export function legacyTarget(file: string): string {
  return path.win32.isAbsolute(file) && /^[A-Za-z]:|^\\\\/.test(file) ? file : path.resolve(file);
}

export function targetOf(env: { DATABASE_URL?: string; LEGACY_DB_PATH: string }, role: 'core' | 'legacy' | 'all'): Target {
  return {
    ...(role !== 'legacy' && env.DATABASE_URL ? { database: databaseTarget(env.DATABASE_URL) } : {}),
    ...(role !== 'core' ? { legacy: legacyTarget(env.LEGACY_DB_PATH) } : {}),
  };
}

export function describeTarget(t: Target): string {
  return [t.legacy ? `legacy file ${t.legacy}` : null, t.database ? `database ${t.database}` : null].filter(Boolean).join(', ') || 'any target';
}

export class WrongTargetError extends Error {
  constructor(worker: string, mine: Target, wanted: Target) {
    super(`this work was started for ${describeTarget(wanted)}, but worker ${worker} serves ${describeTarget(mine)}: start a worker for that target (or stop this one)`);
    this.name = 'WrongTarget';
  }
}

/** The work's target against the worker's, on the side this activity touches. */
export function checkTarget(side: 'core' | 'legacy', worker: string, mine: Target, wanted: Target | undefined): void {
  if (!wanted) return;
  const key = side === 'core' ? 'database' : 'legacy';
  if (wanted[key] && mine[key] && wanted[key] !== mine[key]) throw new WrongTargetError(worker, mine, wanted);
}
