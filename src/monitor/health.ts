import type pg from 'pg';
import type { Thresholds } from './thresholds';

/**
 * The sync's health, read from its own bookkeeping in PostgreSQL (sync_runs, sync_held_back,
 * sync_consistency_reports): nothing in memory, so any process (the worker, the `monitor`
 * server, the `health` command) gives the same answer.
 */

export const HEALTH_STATUSES = ['healthy', 'info', 'warning', 'critical'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export interface HealthCheck {
  name: string;
  status: HealthStatus;
  message: string;
  details?: Record<string, unknown>;
}

export interface HealthReport {
  /** The worst of the checks' statuses. */
  status: HealthStatus;
  /** ISO 8601. */
  checkedAt: string;
  checks: HealthCheck[];
}

export interface HealthOptions {
  /**
   * Table/direction pairs that are configured to sync. They get a `sync_lag` check even when
   * sync_runs has never seen them (never synced = critical). Pairs seen in sync_runs are
   * always checked.
   */
  tables?: { table: string; direction: string }[];
  /** Gives up on PostgreSQL after this long (the database check is then critical). */
  timeoutMs?: number;
}

/** 0 healthy, 1 info, 2 warning, 3 critical: the order used for "worst" and for the gauge. */
export function severity(s: HealthStatus): number {
  return HEALTH_STATUSES.indexOf(s);
}

export function worst(statuses: HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>((w, s) => (severity(s) > severity(w) ? s : w), 'healthy');
}

interface LagRow {
  table_name: string;
  direction: string;
  last_completed_at: Date | null;
  last_outcome: string | null;
  last_finished_at: Date | null;
  last_error: string | null;
  last_held_back: number | null;
  running: boolean;
}

interface WindowRow {
  rows_read: string;
  rows_written: string;
  rows_held_back: string;
  conflicts: string;
  failed_runs: string;
}

interface ConsistencyRow {
  id: string;
  finished_at: Date | null;
  started_at: Date;
  differences: number;
}

interface HeldBackRow {
  table_name: string;
  direction: string;
  rows: string;
}

/** The latest state of each table/direction: last completed run, last finished run's outcome. */
export const LAG_SQL = `
  SELECT r.table_name, r.direction,
         max(r.finished_at) FILTER (WHERE r.status = 'completed') AS last_completed_at,
         bool_or(r.status = 'running') AS running,
         f.status AS last_outcome, f.finished_at AS last_finished_at, f.error AS last_error, f.rows_held_back AS last_held_back
    FROM sync_runs r
    LEFT JOIN LATERAL (
      SELECT status, finished_at, error, rows_held_back FROM sync_runs x
       WHERE x.kind = 'table' AND x.table_name = r.table_name AND x.direction = r.direction AND x.finished_at IS NOT NULL
       ORDER BY x.finished_at DESC, x.started_at DESC LIMIT 1
    ) f ON true
   WHERE r.kind = 'table' AND r.table_name IS NOT NULL AND r.direction IS NOT NULL
   GROUP BY r.table_name, r.direction, f.status, f.finished_at, f.error, f.rows_held_back
   ORDER BY r.table_name, r.direction`;

const WINDOW_SQL = `
  SELECT coalesce(sum(rows_read), 0)::bigint AS rows_read,
         coalesce(sum(rows_written), 0)::bigint AS rows_written,
         coalesce(sum(rows_held_back), 0)::bigint AS rows_held_back,
         coalesce(sum(conflicts), 0)::bigint AS conflicts,
         count(*) FILTER (WHERE kind = 'table' AND status = 'failed')::bigint AS failed_runs
    FROM sync_runs
   WHERE table_name IS NOT NULL AND started_at >= $1 AND started_at <= $2`;

export const CONSISTENCY_SQL = `
  SELECT id, finished_at, started_at, differences FROM sync_consistency_reports
   WHERE status = 'completed'
   ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1`;

export const HELD_BACK_SQL = `
  SELECT table_name, direction, count(*)::bigint AS rows FROM sync_held_back
   WHERE resolved_at IS NULL GROUP BY table_name, direction ORDER BY table_name, direction`;

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const mins = (seconds: number) => `${(seconds / 60).toFixed(1)} min`;

/** Rejects if `p` has not settled within `ms` (the request itself is not cancelled). */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'PostgreSQL'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function lagChecks(rows: LagRow[], t: Thresholds, now: Date, expected: { table: string; direction: string }[]): HealthCheck[] {
  const byKey = new Map(rows.map((r) => [`${r.table_name}\u0000${r.direction}`, r]));
  for (const e of expected) {
    const key = `${e.table}\u0000${e.direction}`;
    if (!byKey.has(key)) {
      byKey.set(key, { table_name: e.table, direction: e.direction, last_completed_at: null, last_outcome: null, last_finished_at: null, last_error: null, last_held_back: null, running: false });
    }
  }
  if (byKey.size === 0) {
    return [{ name: 'sync_lag', status: 'critical', message: 'no table sync has run yet', details: { lagCriticalMinutes: t.lagCriticalMinutes } }];
  }
  const limit = t.lagCriticalMinutes * 60;
  return [...byKey.values()]
    .sort((a, b) => a.table_name.localeCompare(b.table_name) || a.direction.localeCompare(b.direction))
    .map((r) => {
      const lagSeconds = r.last_completed_at ? Math.max(0, (now.getTime() - r.last_completed_at.getTime()) / 1000) : null;
      const status: HealthStatus = lagSeconds === null || lagSeconds > limit ? 'critical' : 'healthy';
      const outcome = r.last_outcome
        ? `last run ${r.last_outcome}${r.last_outcome === 'failed' && r.last_error ? `: ${r.last_error}` : ''}${r.last_held_back ? ` (${r.last_held_back} held back)` : ''}`
        : 'no run finished yet';
      const lag = lagSeconds === null ? 'never completed' : `last completed ${mins(lagSeconds)} ago${status === 'critical' ? ` (limit ${t.lagCriticalMinutes} min)` : ''}`;
      return {
        name: 'sync_lag',
        status,
        message: `${r.table_name} ${r.direction}: ${lag}; ${outcome}${r.running ? '; a run is in progress' : ''}`,
        details: {
          table: r.table_name,
          direction: r.direction,
          lagSeconds: lagSeconds === null ? null : Math.round(lagSeconds),
          lastCompletedAt: r.last_completed_at?.toISOString() ?? null,
          lastOutcome: r.last_outcome,
          lastFinishedAt: r.last_finished_at?.toISOString() ?? null,
          lastError: r.last_error,
          lastHeldBack: r.last_held_back,
          running: r.running,
        },
      };
    });
}

/**
 * Checks, each healthy/info/warning/critical, overall the worst:
 * - `database`: PostgreSQL answers (if not, that is the only check, critical, with the error);
 * - `sync_lag`, one per table/direction: time since the last completed table run, critical
 *   above `lagCriticalMinutes` or when it never completed (also when nothing ever ran);
 * - `error_rate`: (rows held back + failed table runs) / max(1, rows read + failed table runs)
 *   over runs started in the window, warning above `errorRateWarning`;
 * - `conflict_rate`: conflicts / max(1, rows written) in the window, info above `conflictRateInfo`;
 * - `consistency`: the latest completed consistency report, warning if it found differences;
 * - `held_back`: unresolved held-back rows, info when there are any.
 */
export async function computeHealth(pool: pg.Pool, t: Thresholds, now: Date = new Date(), options: HealthOptions = {}): Promise<HealthReport> {
  const checkedAt = now.toISOString();
  const windowStart = new Date(now.getTime() - t.windowMinutes * 60_000);
  const started = Date.now();
  let results: [LagRow[], WindowRow, ConsistencyRow | undefined, HeldBackRow[]];
  try {
    results = await withTimeout(
      Promise.all([
        pool.query<LagRow>(LAG_SQL).then((r) => r.rows),
        pool.query<WindowRow>(WINDOW_SQL, [windowStart, now]).then((r) => r.rows[0]),
        pool.query<ConsistencyRow>(CONSISTENCY_SQL).then((r) => r.rows[0]),
        pool.query<HeldBackRow>(HELD_BACK_SQL).then((r) => r.rows),
      ]),
      options.timeoutMs ?? 10_000,
    );
  } catch (err) {
    const e = err as Error & { code?: string };
    return {
      status: 'critical',
      checkedAt,
      checks: [{ name: 'database', status: 'critical', message: `cannot query PostgreSQL: ${e.message || e.code || String(err)}`, details: e.code ? { code: e.code } : undefined }],
    };
  }
  const [lagRows, win, consistency, heldBack] = results;
  const checks: HealthCheck[] = [{ name: 'database', status: 'healthy', message: `PostgreSQL answers (${Date.now() - started} ms)` }];

  checks.push(...lagChecks(lagRows, t, now, options.tables ?? []));

  const read = Number(win.rows_read);
  const written = Number(win.rows_written);
  const held = Number(win.rows_held_back);
  const conflicts = Number(win.conflicts);
  const failed = Number(win.failed_runs);
  const errorRate = (held + failed) / Math.max(1, read + failed);
  checks.push({
    name: 'error_rate',
    status: errorRate > t.errorRateWarning ? 'warning' : 'healthy',
    message: `${pct(errorRate)} in the last ${t.windowMinutes} min (${held} rows held back, ${failed} failed runs, ${read} rows read; warning above ${pct(t.errorRateWarning)})`,
    details: { rate: errorRate, threshold: t.errorRateWarning, windowMinutes: t.windowMinutes, rowsRead: read, rowsHeldBack: held, failedRuns: failed },
  });

  const conflictRate = conflicts / Math.max(1, written);
  checks.push({
    name: 'conflict_rate',
    status: conflictRate > t.conflictRateInfo ? 'info' : 'healthy',
    message: `${pct(conflictRate)} in the last ${t.windowMinutes} min (${conflicts} conflicts, ${written} rows written; info above ${pct(t.conflictRateInfo)})`,
    details: { rate: conflictRate, threshold: t.conflictRateInfo, windowMinutes: t.windowMinutes, conflicts, rowsWritten: written },
  });

  if (!consistency) {
    checks.push({ name: 'consistency', status: 'healthy', message: 'no consistency check yet' });
  } else {
    const when = (consistency.finished_at ?? consistency.started_at).toISOString();
    checks.push({
      name: 'consistency',
      status: consistency.differences > 0 ? 'warning' : 'healthy',
      message:
        consistency.differences > 0
          ? `the last consistency check (${when}) found ${consistency.differences} differences`
          : `the last consistency check (${when}) found no differences`,
      details: { reportId: consistency.id, finishedAt: consistency.finished_at?.toISOString() ?? null, differences: consistency.differences },
    });
  }

  const heldTotal = heldBack.reduce((n, r) => n + Number(r.rows), 0);
  checks.push(
    heldTotal > 0
      ? {
          name: 'held_back',
          status: 'info',
          message: `${heldTotal} rows held back: ${heldBack.map((r) => `${r.table_name} ${r.direction} ${r.rows}`).join(', ')}`,
          details: { total: heldTotal, byTable: heldBack.map((r) => ({ table: r.table_name, direction: r.direction, rows: Number(r.rows) })) },
        }
      : { name: 'held_back', status: 'healthy', message: 'no rows held back', details: { total: 0, byTable: [] } },
  );

  return { status: worst(checks.map((c) => c.status)), checkedAt, checks };
}
