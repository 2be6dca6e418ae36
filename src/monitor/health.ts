import type pg from 'pg';
import { latestReport } from '../state/consistencyReports';
import { heldCounts } from '../state/heldBack';
import { tableStatus, windowTotals, type TableStatus } from '../state/status';
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

function lagChecks(rows: TableStatus[], t: Thresholds): HealthCheck[] {
  if (rows.length === 0) {
    return [{ name: 'sync_lag', status: 'critical', message: 'no table sync has run yet', details: { lagCriticalMinutes: t.lagCriticalMinutes } }];
  }
  const limit = t.lagCriticalMinutes * 60;
  return rows.map((r) => {
    const status: HealthStatus = r.lagSeconds === null || r.lagSeconds > limit ? 'critical' : 'healthy';
    const why = r.lastReason && r.lastOutcome !== 'completed' ? `: ${r.lastReason}` : '';
    const outcome = r.lastOutcome ? `last run ${r.lastOutcome}${why}${r.lastHeldBack ? ` (${r.lastHeldBack} held back)` : ''}` : 'no run finished yet';
    const lag = r.lagSeconds === null ? 'never completed' : `synced as of ${mins(r.lagSeconds)} ago${status === 'critical' ? ` (limit ${t.lagCriticalMinutes} min)` : ''}`;
    return {
      name: 'sync_lag',
      status,
      message: `${r.table} ${r.direction}: ${lag}; ${outcome}${r.running ? '; a run is in progress' : ''}`,
      details: {
        table: r.table,
        direction: r.direction,
        lagSeconds: r.lagSeconds,
        lastOutcome: r.lastOutcome,
        lastReason: r.lastReason,
        lastFinishedAt: r.lastFinishedAt,
        lastHeldBack: r.lastHeldBack,
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
  let results: [TableStatus[], Awaited<ReturnType<typeof windowTotals>>, Awaited<ReturnType<typeof latestReport>>, Awaited<ReturnType<typeof heldCounts>>];
  try {
    results = await withTimeout(
      Promise.all([tableStatus(pool, options.tables ?? []), windowTotals(pool, windowStart, now), latestReport(pool), heldCounts(pool)]),
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

  checks.push(...lagChecks(lagRows, t));

  const { read, written, heldBack: held, conflicts, failedRuns: failed } = win;
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
    const when = (consistency.finishedAt ?? consistency.startedAt).toISOString();
    checks.push({
      name: 'consistency',
      status: consistency.differences > 0 ? 'warning' : 'healthy',
      message:
        consistency.differences > 0
          ? `the last consistency check (${when}) found ${consistency.differences} differences`
          : `the last consistency check (${when}) found no differences`,
      details: { reportId: consistency.id, finishedAt: consistency.finishedAt?.toISOString() ?? null, differences: consistency.differences },
    });
  }

  const heldTotal = heldBack.reduce((n, r) => n + r.rows, 0);
  checks.push(
    heldTotal > 0
      ? {
          name: 'held_back',
          status: 'info',
          message: `${heldTotal} rows held back: ${heldBack.map((r) => `${r.table} ${r.direction} ${r.rows}`).join(', ')}`,
          details: { total: heldTotal, byTable: heldBack },
        }
      : { name: 'held_back', status: 'healthy', message: 'no rows held back', details: { total: 0, byTable: [] } },
  );

  return { status: worst(checks.map((c) => c.status)), checkedAt, checks };
}
