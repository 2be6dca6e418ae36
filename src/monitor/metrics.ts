import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { openConflictCounts } from '../state/conflicts';
import { latestReport } from '../state/consistencyReports';
import { heldCounts } from '../state/heldBack';
import { cyclesSinceCompleted, runTotals, tableStatus } from '../state/status';
import { computeHealth, severity, withTimeout, type HealthCheck, type HealthOptions } from './health';
import type { TemporalProbe } from './temporal';
import type { Thresholds } from './thresholds';

/**
 * Prometheus metrics, on registries of our own (never prom-client's global one).
 *
 * Two kinds:
 * - In-process, observed by the worker while it runs: the cycle and activity duration
 *   histograms and Node's default process metrics (prefix `luckygas_`). They live on one
 *   module-level registry, `processRegistry`, so `observeActivity` / `observeCycle` can be
 *   called from anywhere in the worker without passing a registry around.
 * - From PostgreSQL, computed at scrape time (collect callbacks): lag, row counts, failed
 *   runs, conflicts, held-back rows, consistency differences and the overall health. One
 *   snapshot of the database is taken per scrape and shared by all of them, so a scrape is a
 *   handful of queries and its numbers agree with each other.
 * - From Temporal, when the monitor is given a probe: live pollers per task queue.
 *
 * Naming: the cumulative row counts are a Counter, `luckygas_sync_rows_total`, whose value
 * is set from the sums over sync_runs at each scrape (reset, then incremented by the sum).
 * That keeps the `_total` convention for counters (promtool's lint wants it) and lets
 * `rate()` give throughput; if old sync_runs are ever pruned, Prometheus sees an ordinary
 * counter reset. The other database numbers are gauges named as the design asks
 * (no `_total` suffix, which would be wrong on a gauge).
 */

export const ROW_OUTCOMES = ['written', 'unchanged', 'held_back'] as const;

// ───────────────────────────── in-process (the worker) ─────────────────────────────

/** The module-level registry the worker's observations go to. */
export const processRegistry = new Registry();

const cycleDuration = new Histogram({
  name: 'luckygas_sync_cycle_duration_seconds',
  help: 'Duration of whole sync cycles, observed by the worker.',
  buckets: [0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600, 1800],
  registers: [processRegistry],
});

const activityDuration = new Histogram({
  name: 'luckygas_sync_activity_duration_seconds',
  help: 'Duration of sync activities by activity name, observed by the worker.',
  labelNames: ['activity'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [processRegistry],
});

let defaultMetricsStarted = false;
function ensureDefaultMetrics(): void {
  if (defaultMetricsStarted) return;
  defaultMetricsStarted = true;
  collectDefaultMetrics({ register: processRegistry, prefix: 'luckygas_' });
}

function checkSeconds(seconds: number): boolean {
  return Number.isFinite(seconds) && seconds >= 0;
}

/** Records one activity execution (seconds). Bad values (negative, NaN) are ignored. */
export function observeActivity(name: string, seconds: number): void {
  if (checkSeconds(seconds)) activityDuration.observe({ activity: name }, seconds);
}

/** Records one sync cycle (seconds). Bad values (negative, NaN) are ignored. */
export function observeCycle(seconds: number): void {
  if (checkSeconds(seconds)) cycleDuration.observe(seconds);
}

// ───────────────────────────── from PostgreSQL, at scrape time ─────────────────────────────

interface Snapshot {
  lag: { table: string; direction: string; seconds: number }[];
  rows: { table: string; direction: string; written: number; unchanged: number; heldBack: number; failedRuns: number }[];
  conflicts: { table: string; conflicts: number }[];
  heldBack: { table: string; direction: string; rows: number }[];
  consistencyDifferences: number | null;
  healthSeverity: number;
  cyclesSinceCompleted: { table: string; direction: string; cycles: number }[];
  openConflicts: { table: string; open: number; oldestSeconds: number }[];
  errorRate: number;
  conflictRate: number;
}

/** The rate a health check computed over its window (0 when the check has none). */
function rateOf(checks: HealthCheck[], name: string): number {
  const rate = checks.find((c) => c.name === name)?.details?.rate;
  return typeof rate === 'number' ? rate : 0;
}

async function takeSnapshot(pool: pg.Pool, thresholds: Thresholds, options: HealthOptions): Promise<Snapshot> {
  const now = new Date();
  const configured = options.tables ?? [];
  const [status, totals, held, consistency, health, cycles, open] = await withTimeout(
    Promise.all([tableStatus(pool, configured), runTotals(pool), heldCounts(pool), latestReport(pool), computeHealth(pool, thresholds, now, options), cyclesSinceCompleted(pool, configured), openConflictCounts(pool)]),
    options.timeoutMs ?? 10_000,
  );
  const conflicts = new Map<string, number>();
  for (const r of totals) conflicts.set(r.table, (conflicts.get(r.table) ?? 0) + r.conflicts);
  return {
    // Never completed: +Inf, so `luckygas_sync_lag_seconds > 1800` alerts on it too.
    lag: status.map((r) => ({ table: r.table, direction: r.direction, seconds: r.lagSeconds ?? Infinity })),
    rows: totals.map(({ conflicts: _c, ...r }) => r),
    conflicts: [...conflicts].map(([table, n]) => ({ table, conflicts: n })),
    heldBack: held,
    consistencyDifferences: consistency?.differences ?? null,
    healthSeverity: severity(health.status),
    cyclesSinceCompleted: cycles,
    openConflicts: open,
    errorRate: rateOf(health.checks, 'error_rate'),
    conflictRate: rateOf(health.checks, 'conflict_rate'),
  };
}

export interface MetricsOptions extends HealthOptions {
  /** Asked at each scrape for the pollers of the task queues; without it no Temporal metrics. */
  temporal?: TemporalProbe;
}

/**
 * A registry with the database metrics (computed at scrape time from `pool`) and the
 * in-process ones (`processRegistry`: histograms and default process metrics). Serve it with
 * `await registry.metrics()` and `registry.contentType`.
 *
 * If PostgreSQL cannot be queried, the scrape still succeeds: `luckygas_sync_database_up` is
 * 0, `luckygas_sync_health_status` is 3 (critical), the per-table series and the rates are
 * absent and `luckygas_sync_consistency_differences` keeps its last known value. Likewise
 * with a Temporal probe: Temporal unreachable makes `luckygas_sync_temporal_up` 0 and the
 * poller series absent.
 */
export function createMetricsRegistry(pool: pg.Pool, thresholds: Thresholds, options: MetricsOptions = {}): Registry {
  ensureDefaultMetrics();
  const db = new Registry();

  // One snapshot per scrape: registry.metrics() starts every collect() before any resolves,
  // so they all share the promise in flight; the next scrape takes a new one.
  let inFlight: Promise<Snapshot | null> | null = null;
  const snapshot = (): Promise<Snapshot | null> => {
    if (!inFlight) {
      inFlight = takeSnapshot(pool, thresholds, options)
        .catch(() => null)
        .finally(() => {
          inFlight = null;
        });
    }
    return inFlight;
  };

  const databaseUp = new Gauge({
    name: 'luckygas_sync_database_up',
    help: '1 if the monitor could query PostgreSQL at this scrape, else 0.',
    registers: [db],
    collect: async () => {
      databaseUp.set((await snapshot()) ? 1 : 0);
    },
  });

  const lag = new Gauge({
    name: 'luckygas_sync_lag_seconds',
    help: 'Seconds since the last completed table sync per table and direction (+Inf if it never completed).',
    labelNames: ['table', 'direction'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      lag.reset();
      for (const r of s?.lag ?? []) lag.set({ table: r.table, direction: r.direction }, r.seconds);
    },
  });

  const rows = new Counter({
    name: 'luckygas_sync_rows_total',
    help: 'Rows processed by the sync per table, direction and outcome (written|unchanged|held_back), summed over all sync_runs.',
    labelNames: ['table', 'direction', 'outcome'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      rows.reset();
      for (const r of s?.rows ?? []) {
        rows.inc({ table: r.table, direction: r.direction, outcome: 'written' }, r.written);
        rows.inc({ table: r.table, direction: r.direction, outcome: 'unchanged' }, r.unchanged);
        rows.inc({ table: r.table, direction: r.direction, outcome: 'held_back' }, r.heldBack);
      }
    },
  });

  const runErrors = new Gauge({
    name: 'luckygas_sync_run_errors',
    help: 'Sync runs that failed, per table and direction (all recorded runs).',
    labelNames: ['table', 'direction'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      runErrors.reset();
      for (const r of s?.rows ?? []) runErrors.set({ table: r.table, direction: r.direction }, r.failedRuns);
    },
  });

  const conflicts = new Gauge({
    name: 'luckygas_sync_conflicts',
    help: 'Conflicts (a row changed on both sides) per table, summed over all sync_runs.',
    labelNames: ['table'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      conflicts.reset();
      for (const r of s?.conflicts ?? []) conflicts.set({ table: r.table }, r.conflicts);
    },
  });

  const heldBack = new Gauge({
    name: 'luckygas_sync_held_back_rows',
    help: 'Rows held back and not yet resolved, per table and direction.',
    labelNames: ['table', 'direction'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      heldBack.reset();
      if (!s) return;
      // Every pair the sync knows gets a series (0 when nothing is held back), so it does not vanish.
      const values = new Map<string, { table: string; direction: string; rows: number }>();
      for (const r of s.rows) values.set(`${r.table}\u0000${r.direction}`, { table: r.table, direction: r.direction, rows: 0 });
      for (const r of s.heldBack) values.set(`${r.table}\u0000${r.direction}`, r);
      for (const v of values.values()) heldBack.set({ table: v.table, direction: v.direction }, v.rows);
    },
  });

  const consistency = new Gauge({
    name: 'luckygas_sync_consistency_differences',
    help: 'Differences found by the latest completed consistency check (0 if none has run).',
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      if (s) consistency.set(s.consistencyDifferences ?? 0);
    },
  });

  const healthStatus = new Gauge({
    name: 'luckygas_sync_health_status',
    help: 'Overall sync health: 0 healthy, 1 info, 2 warning, 3 critical.',
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      healthStatus.set(s ? s.healthSeverity : severity('critical'));
    },
  });

  const cyclesSince = new Gauge({
    name: 'luckygas_sync_cycles_since_completed',
    help: 'Sync cycles begun since the last completed run of a table and direction (all cycles if it never completed).',
    labelNames: ['table', 'direction'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      cyclesSince.reset();
      for (const r of s?.cyclesSinceCompleted ?? []) cyclesSince.set({ table: r.table, direction: r.direction }, r.cycles);
    },
  });

  const openConflicts = new Gauge({
    name: 'luckygas_sync_open_conflicts',
    help: 'Conflicts awaiting a manual decision (sync_conflicts.status open), per table.',
    labelNames: ['table'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      openConflicts.reset();
      if (!s) return;
      // Every table the sync knows gets a series (0 when nothing waits), so it does not vanish.
      const values = new Map(s.rows.map((r) => [r.table, 0]));
      for (const r of s.openConflicts) values.set(r.table, r.open);
      for (const [table, open] of values) openConflicts.set({ table }, open);
    },
  });

  const openConflictAge = new Gauge({
    name: 'luckygas_sync_open_conflict_age_seconds',
    help: 'Age of the oldest conflict awaiting a manual decision, per table (absent when none waits).',
    labelNames: ['table'] as const,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      openConflictAge.reset();
      for (const r of s?.openConflicts ?? []) openConflictAge.set({ table: r.table }, r.oldestSeconds);
    },
  });

  const errorRate = new Gauge({
    name: 'luckygas_sync_error_rate',
    help: `(Rows held back + failed table runs) / (rows read + failed table runs), over runs started in the last ${thresholds.windowMinutes} min: the health check's error rate.`,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      errorRate.reset();
      if (s) errorRate.set(s.errorRate);
    },
  });

  const conflictRate = new Gauge({
    name: 'luckygas_sync_conflict_rate',
    help: `Conflicts / rows written, over runs started in the last ${thresholds.windowMinutes} min: the health check's conflict rate.`,
    registers: [db],
    collect: async () => {
      const s = await snapshot();
      conflictRate.reset();
      if (s) conflictRate.set(s.conflictRate);
    },
  });

  const { temporal } = options;
  if (temporal) {
    // One question to Temporal per scrape, shared like the database snapshot.
    let polling: Promise<Awaited<ReturnType<TemporalProbe['sample']>>> | null = null;
    const pollers = () => {
      polling ??= temporal.sample().finally(() => {
        polling = null;
      });
      return polling;
    };
    const temporalUp = new Gauge({
      name: 'luckygas_sync_temporal_up',
      help: '1 if the monitor could ask Temporal about the task queues at this scrape, else 0.',
      registers: [db],
      collect: async () => {
        temporalUp.set((await pollers()) ? 1 : 0);
      },
    });
    const queuePollers = new Gauge({
      name: 'luckygas_sync_task_queue_pollers',
      help: 'Workers polling a task queue for a task type (workflow|activity) now; one-off command workers are not counted.',
      labelNames: ['task_queue', 'task_type'] as const,
      registers: [db],
      collect: async () => {
        const sample = await pollers();
        queuePollers.reset();
        for (const p of sample ?? []) queuePollers.set({ task_queue: p.taskQueue, task_type: p.taskType }, p.pollers);
      },
    });
  }

  return Registry.merge([db, processRegistry]);
}
