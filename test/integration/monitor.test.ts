import { createPool } from '../../src/db/postgres';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pg from 'pg';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadEnv, type AppEnv } from '../../src/config/env';
import { computeHealth, type HealthCheck, type HealthReport } from '../../src/monitor/health';
import { createMetricsRegistry, observeActivity, observeCycle } from '../../src/monitor/metrics';
import { startMonitor } from '../../src/monitor/server';
import { temporalProbe } from '../../src/monitor/temporal';
import { DEFAULT_THRESHOLDS, loadThresholds, type Thresholds } from '../../src/monitor/thresholds';
import { createTestDatabase } from '../support/testDatabase';

// js-yaml comes with the test tools (jest, eslint); only load is used, as in every version.
const yaml = require('js-yaml') as { load(text: string): unknown };

// ───────────────────────────── a small Prometheus text (0.0.4) parser ─────────────────────────────

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type?: string;
  help?: string;
  samples: Sample[];
}
interface Parsed {
  families: Map<string, Family>;
  errors: string[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (\\S+)(?: (-?\\d+))?$`);
const VALUE_RE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN|Nan)$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Every line is a HELP, TYPE or sample line; every sample belongs to a family with HELP and TYPE given first. */
function parsePrometheus(text: string): Parsed {
  const families = new Map<string, Family>();
  const errors: string[] = [];
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  const familyOf = (sample: string): Family | undefined => {
    const direct = families.get(sample);
    if (direct) return direct;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (sample.endsWith(suffix)) {
        const f = families.get(sample.slice(0, -suffix.length));
        if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
      }
    }
    return undefined;
  };
  if (!text.endsWith('\n')) errors.push('the text does not end with a newline');
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1} '${line}'`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // other comments are allowed
      if (!new RegExp(`^${NAME}$`).test(m[2])) errors.push(`${where}: bad metric name`);
      const f = family(m[2]);
      if (m[1] === 'HELP') {
        if (f.help !== undefined) errors.push(`${where}: second HELP`);
        f.help = m[3];
      } else {
        if (f.type !== undefined) errors.push(`${where}: second TYPE`);
        if (f.samples.length > 0) errors.push(`${where}: TYPE after samples`);
        if (!TYPES.includes(m[3])) errors.push(`${where}: unknown type`);
        f.type = m[3];
      }
      return;
    }
    const m = SAMPLE_RE.exec(line);
    if (!m) {
      errors.push(`${where}: not 'name{labels} value'`);
      return;
    }
    if (!VALUE_RE.test(m[3])) errors.push(`${where}: bad value`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (l[1] in labels) errors.push(`${where}: label ${l[1]} twice`);
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    const f = familyOf(m[1]);
    if (!f || f.type === undefined || f.help === undefined) {
      errors.push(`${where}: no HELP and TYPE before the sample`);
      return;
    }
    const v = m[3];
    f.samples.push({ name: m[1], labels, value: /^[+-]?Inf$/.test(v) ? (v.startsWith('-') ? -Infinity : Infinity) : /^nan$/i.test(v) ? NaN : Number(v) });
  });
  for (const f of families.values()) {
    if (f.type === undefined) errors.push(`${f.name}: no TYPE`);
    if (f.help === undefined) errors.push(`${f.name}: no HELP`);
  }
  return { families, errors };
}

/** The value of the sample with exactly these labels. */
function sampleValue(p: Parsed, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).sort();
  for (const f of p.families.values()) {
    for (const s of f.samples) {
      if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(want)) return s.value;
    }
  }
  return undefined;
}

// ───────────────── what the alert rules and the dashboard name (PromQL) ─────────────────

/** An expression's metric names with the labels its selectors match on, and the labels it groups or templates by. */
interface PromqlUse {
  where: string;
  metrics: Map<string, Set<string>>;
  labels: Set<string>;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'and', 'or', 'unless', 'bool', 'inf', 'nan']);

/**
 * Enough of PromQL for the expressions we write: selectors `name{label="v"}`, ranges, grouping
 * clauses, functions and aggregations (an identifier followed by `(`), numbers and durations.
 */
function promqlUse(where: string, expr: string, templateLabels: Iterable<string>): PromqlUse {
  const labels = new Set(templateLabels);
  const metrics = new Map<string, Set<string>>();
  let e = expr.replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, list: string) => {
    for (const l of list.split(',')) if (l.trim()) labels.add(l.trim());
    return ' ';
  });
  for (const m of e.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*(\()?/g)) {
    const [, name, selector, call] = m;
    if (call || PROMQL_WORDS.has(name.toLowerCase())) continue;
    const used = metrics.get(name) ?? new Set<string>();
    for (const l of (selector ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) used.add(l[1]);
    metrics.set(name, used);
  }
  return { where, metrics, labels };
}

const DEPLOY = path.resolve(__dirname, '../../deploy');

/** Every expression in the alert rules and the dashboard, with the labels its texts show. */
function deployedExpressions(): PromqlUse[] {
  const rules = (yaml.load(readFileSync(path.join(DEPLOY, 'prometheus/alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string; annotations?: Record<string, string> }[] }[] }).groups.flatMap((g) => g.rules);
  const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, 'grafana/dashboards/luckygas-sync.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string; legendFormat?: string }[] }[] };
  return [
    ...rules.map((r) => promqlUse(`alert ${r.alert}`, r.expr, [...Object.values(r.annotations ?? {}).join(' ').matchAll(/\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1]))),
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => promqlUse(`panel '${p.title}'`, t.expr, [...(t.legendFormat ?? '').matchAll(/\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)].map((m) => m[1])))),
  ];
}

/** Series Prometheus makes itself for each scrape, and the labels it adds to every series. */
const SCRAPE_OWN = { metrics: new Set(['up']), labels: new Set(['job', 'instance']) };

/** What an expression names that the scrape does not have: metric names, or labels on them. */
function missingIn(p: Parsed, use: PromqlUse): string[] {
  const samples = [...p.families.values()].flatMap((f) => f.samples);
  const labelsOf = (metric: string) => new Set(samples.filter((s) => s.name === metric).flatMap((s) => Object.keys(s.labels)));
  const missing: string[] = [];
  for (const [metric, selectorLabels] of use.metrics) {
    if (SCRAPE_OWN.metrics.has(metric)) continue;
    if (!samples.some((s) => s.name === metric)) {
      missing.push(`${use.where}: no series ${metric}`);
      continue;
    }
    const has = labelsOf(metric);
    for (const l of [...selectorLabels, ...use.labels]) if (!has.has(l) && !SCRAPE_OWN.labels.has(l)) missing.push(`${use.where}: ${metric} has no label ${l}`);
  }
  return missing;
}

// ───────────────────────────── helpers ─────────────────────────────

const MIN = 60_000;
const T: Thresholds = { ...DEFAULT_THRESHOLDS };

interface RunInput {
  table?: string;
  direction?: string;
  kind?: string;
  status?: string;
  startedMinAgo?: number;
  finishedMinAgo?: number | null;
  read?: number;
  written?: number;
  unchanged?: number;
  heldBack?: number;
  conflicts?: number;
  error?: string;
  /** The cycle the run belongs to (sync_runs.parent_id). */
  cycle?: string;
}

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

function check(report: HealthReport, name: string, table?: string): HealthCheck {
  const c = report.checks.find((x) => x.name === name && (table === undefined || x.details?.table === table));
  if (!c) throw new Error(`no check ${name}${table ? ` for ${table}` : ''} in ${JSON.stringify(report.checks)}`);
  return c;
}

describe('the monitor (health checks, /metrics, /health)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let pool: pg.Pool;

  const insertRun = async (r: RunInput) => {
    const now = Date.now();
    const started = new Date(now - (r.startedMinAgo ?? (r.finishedMinAgo ?? 0) + 1) * MIN);
    const finished = r.finishedMinAgo === null ? null : new Date(now - (r.finishedMinAgo ?? 1) * MIN);
    const id = `run-${randomUUID()}`;
    await pool.query(
      `INSERT INTO sync_runs (id, kind, table_name, direction, workflow_id, status, started_at, finished_at,
         rows_read, rows_written, rows_unchanged, rows_held_back, conflicts, error, parent_id)
       VALUES ($1, $2, $3, $4, $1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        id,
        r.kind ?? 'table',
        r.table ?? 'clients',
        r.direction ?? 'legacy-to-new',
        r.status ?? 'completed',
        started,
        finished,
        r.read ?? 0,
        r.written ?? 0,
        r.unchanged ?? 0,
        r.heldBack ?? 0,
        r.conflicts ?? 0,
        r.error ?? null,
        r.cycle ?? null,
      ],
    );
    return id;
  };
  const health = (t: Thresholds = T) => computeHealth(pool, t);

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, 5); // its clients' errors reach their queries, never the process
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  beforeEach(async () => {
    await pool.query('TRUNCATE sync_runs, sync_held_back, sync_consistency_reports, sync_conflicts');
  });

  describe('thresholds', () => {
    it('defaults to the design: 30 min lag, 5% errors, 10% conflicts, over 60 min', () => {
      expect(loadThresholds({})).toEqual({ lagCriticalMinutes: 30, errorRateWarning: 0.05, conflictRateInfo: 0.1, windowMinutes: 60 });
      expect(loadThresholds({ MONITOR_LAG_CRITICAL_MINUTES: '', MONITOR_ERROR_RATE_WARNING: ' ' })).toEqual(DEFAULT_THRESHOLDS);
    });

    it('reads overrides (fractions or percentages) and rejects nonsense', () => {
      expect(
        loadThresholds({ MONITOR_LAG_CRITICAL_MINUTES: '45', MONITOR_ERROR_RATE_WARNING: '2%', MONITOR_CONFLICT_RATE_INFO: '0.2', MONITOR_WINDOW_MINUTES: '15' }),
      ).toEqual({ lagCriticalMinutes: 45, errorRateWarning: 0.02, conflictRateInfo: 0.2, windowMinutes: 15 });
      expect(() => loadThresholds({ MONITOR_ERROR_RATE_WARNING: 'lots' })).toThrow(/MONITOR_ERROR_RATE_WARNING/);
      expect(() => loadThresholds({ MONITOR_CONFLICT_RATE_INFO: '150%' })).toThrow(/MONITOR_CONFLICT_RATE_INFO/);
      expect(() => loadThresholds({ MONITOR_LAG_CRITICAL_MINUTES: '-5' })).toThrow(/MONITOR_LAG_CRITICAL_MINUTES/);
    });
  });

  describe('computeHealth', () => {
    it('is healthy when every table completed recently with no errors', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 90, unchanged: 10 });
      await insertRun({ table: 'drivers', finishedMinAgo: 3, read: 20, written: 20 });
      const r = await health();
      expect(r.status).toBe('healthy');
      expect(r.checks.every((c) => c.status === 'healthy')).toBe(true);
      expect(new Date(r.checkedAt).toISOString()).toBe(r.checkedAt);
      expect(r.checks.map((c) => c.name)).toEqual(['database', 'sync_lag', 'sync_lag', 'error_rate', 'conflict_rate', 'consistency', 'held_back']);
      expect(check(r, 'sync_lag', 'clients').details).toMatchObject({ direction: 'legacy-to-new', lastOutcome: 'completed' });
      expect(check(r, 'sync_lag', 'clients').details?.lagSeconds).toBeGreaterThanOrEqual(175);
      expect(check(r, 'sync_lag', 'clients').details?.lagSeconds).toBeLessThan(240);
      expect(check(r, 'consistency').message).toBe('no consistency check yet');
    });

    it('is critical when nothing has ever synced', async () => {
      const r = await health();
      expect(r.status).toBe('critical');
      expect(check(r, 'sync_lag')).toMatchObject({ status: 'critical', message: 'no table sync has run yet' });
    });

    it('is critical when the last completed run is 31 minutes old, not at 29', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 10, written: 10 });
      await insertRun({ table: 'drivers', finishedMinAgo: 31, read: 10, written: 10 });
      let r = await health();
      expect(r.status).toBe('critical');
      expect(check(r, 'sync_lag', 'drivers').status).toBe('critical');
      expect(check(r, 'sync_lag', 'drivers').message).toMatch(/drivers legacy-to-new: synced as of 32\.\d min ago/);
      expect(check(r, 'sync_lag', 'clients').status).toBe('healthy');
      // A higher threshold makes the same data healthy.
      expect((await health({ ...T, lagCriticalMinutes: 45 })).status).toBe('healthy');

      await pool.query('TRUNCATE sync_runs');
      await insertRun({ table: 'drivers', finishedMinAgo: 28, startedMinAgo: 29, read: 10, written: 10 });
      r = await health();
      expect(check(r, 'sync_lag', 'drivers').status).toBe('healthy');
      expect(r.status).toBe('healthy');
    });

    it('measures lag from the start of the last completed run, reports the last outcome, and counts never-completed as critical', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 20, read: 10, written: 10 });
      await insertRun({ table: 'clients', status: 'failed', finishedMinAgo: 1, startedMinAgo: 2, error: 'legacy db locked' });
      await insertRun({ table: 'drivers', status: 'failed', finishedMinAgo: 5, error: 'boom' });
      await insertRun({ table: 'orders', status: 'running', finishedMinAgo: null, startedMinAgo: 1 });
      const r = await health({ ...T, errorRateWarning: 1 });
      const clients = check(r, 'sync_lag', 'clients');
      expect(clients.status).toBe('healthy');
      expect(clients.details).toMatchObject({ lastOutcome: 'failed', lastReason: 'legacy db locked' });
      expect(clients.details?.lagSeconds).toBeGreaterThanOrEqual(20 * 60 - 5);
      expect(clients.message).toMatch(/last run failed: legacy db locked/);
      expect(check(r, 'sync_lag', 'drivers')).toMatchObject({ status: 'critical', details: { lagSeconds: null, lastOutcome: 'failed' } });
      expect(check(r, 'sync_lag', 'orders')).toMatchObject({ status: 'critical', details: { running: true, lastOutcome: null } });
      expect(r.status).toBe('critical');
    });

    it('checks configured tables that never ran', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 10, written: 10 });
      const r = await computeHealth(pool, T, new Date(), { tables: [{ table: 'clients', direction: 'legacy-to-new' }, { table: 'deliveries', direction: 'new-to-legacy' }] });
      expect(check(r, 'sync_lag', 'deliveries')).toMatchObject({ status: 'critical', details: { direction: 'new-to-legacy', lagSeconds: null } });
      expect(check(r, 'sync_lag', 'clients').status).toBe('healthy');
    });

    it('warns when held-back rows are 6% of rows read, not at 4%', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 94, heldBack: 6 });
      let r = await health();
      expect(check(r, 'error_rate')).toMatchObject({ status: 'warning', details: { rowsRead: 100, rowsHeldBack: 6, failedRuns: 0 } });
      expect(check(r, 'error_rate').details?.rate).toBeCloseTo(0.06);
      expect(r.status).toBe('warning');

      await pool.query('TRUNCATE sync_runs');
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 96, heldBack: 4 });
      r = await health();
      expect(check(r, 'error_rate').status).toBe('healthy');
      expect(check(r, 'error_rate').details?.rate).toBeCloseTo(0.04);
      expect(r.status).toBe('healthy');
    });

    it('counts failed table runs as errors and ignores runs started before the window', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 50, written: 50 });
      for (let i = 0; i < 3; i++) await insertRun({ table: 'drivers', status: 'failed', finishedMinAgo: 10 + i });
      await insertRun({ table: 'drivers', finishedMinAgo: 1, read: 10, written: 10 });
      // Two hours ago: outside the 60-minute window, whatever it held back.
      await insertRun({ table: 'clients', startedMinAgo: 120, finishedMinAgo: 119, read: 100, heldBack: 100 });
      const r = await health();
      const e = check(r, 'error_rate');
      expect(e.details).toMatchObject({ rowsRead: 60, rowsHeldBack: 0, failedRuns: 3 });
      expect(e.details?.rate).toBeCloseTo(3 / 63);
      expect(e.status).toBe('healthy');
      await insertRun({ table: 'drivers', status: 'failed', finishedMinAgo: 5 });
      expect(check(await health(), 'error_rate').status).toBe('warning'); // 4 / 64 = 6.25%
    });

    it('gives info when conflicts are 11% of rows written, not at 9%', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 100, conflicts: 11 });
      let r = await health();
      expect(check(r, 'conflict_rate')).toMatchObject({ status: 'info', details: { conflicts: 11, rowsWritten: 100 } });
      expect(r.status).toBe('info');

      await pool.query('TRUNCATE sync_runs');
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 100, conflicts: 9 });
      r = await health();
      expect(check(r, 'conflict_rate').status).toBe('healthy');
      expect(r.status).toBe('healthy');
    });

    it('warns when the latest completed consistency check found differences', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 10, written: 10 });
      const report = (id: string, status: string, finishedMinAgo: number | null, differences: number) =>
        pool.query(`INSERT INTO sync_consistency_reports (id, status, started_at, finished_at, differences) VALUES ($1, $2, $3, $4, $5)`, [
          id,
          status,
          new Date(Date.now() - ((finishedMinAgo ?? 0) + 1) * MIN),
          finishedMinAgo === null ? null : new Date(Date.now() - finishedMinAgo * MIN),
          differences,
        ]);
      await report('old-clean', 'completed', 60, 0);
      await report('latest', 'completed', 10, 3);
      await report('in-progress', 'running', null, 0);
      let r = await health();
      expect(check(r, 'consistency')).toMatchObject({ status: 'warning', details: { reportId: 'latest', differences: 3 } });
      expect(r.status).toBe('warning');

      await report('newest-clean', 'completed', 1, 0);
      r = await health();
      expect(check(r, 'consistency')).toMatchObject({ status: 'healthy', details: { reportId: 'newest-clean', differences: 0 } });
      expect(r.status).toBe('healthy');
    });

    it('gives info on unresolved held-back rows, with the count per table', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 1000, written: 1000 });
      const held = (table: string, rowId: number, resolved: boolean) =>
        pool.query(
          `INSERT INTO sync_held_back (table_name, direction, row_id, reason_kind, reason, raw, run_id, resolved_at)
           VALUES ($1, 'legacy-to-new', $2, 'encoding', 'undecodable bytes', '{}'::jsonb, 'run-x', $3)`,
          [table, rowId, resolved ? new Date() : null],
        );
      await held('clients', 1, false);
      await held('clients', 2, false);
      await held('drivers', 7, false);
      await held('drivers', 8, true);
      const r = await health();
      const c = check(r, 'held_back');
      expect(c.status).toBe('info');
      expect(c.details).toEqual({
        total: 3,
        byTable: [
          { table: 'clients', direction: 'legacy-to-new', rows: 2 },
          { table: 'drivers', direction: 'legacy-to-new', rows: 1 },
        ],
      });
      expect(c.message).toBe('3 rows held back: clients legacy-to-new 2, drivers legacy-to-new 1');
      expect(r.status).toBe('info');
    });

    it('is critical with the error when PostgreSQL cannot be queried', async () => {
      const dead = new pg.Pool({ connectionString: 'postgresql://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
      dead.on('error', () => {});
      try {
        const r = await computeHealth(dead, T);
        expect(r.status).toBe('critical');
        expect(r.checks).toHaveLength(1);
        expect(r.checks[0]).toMatchObject({ name: 'database', status: 'critical' });
        expect(r.checks[0].message).toMatch(/ECONNREFUSED|connect/);
      } finally {
        await dead.end();
      }
    });
  });

  describe('the Prometheus text parser used below', () => {
    it('rejects malformed exposition text (so the /metrics checks can fail)', () => {
      expect(parsePrometheus('# HELP a_b x\n# TYPE a_b gauge\na_b{t="1"} 2\n').errors).toEqual([]);
      expect(parsePrometheus('a_b 1\n').errors.join()).toMatch(/no HELP and TYPE/);
      expect(parsePrometheus('# HELP a_b x\n# TYPE a_b gauge\na_b{t=1} 2\n').errors.join()).toMatch(/not 'name\{labels\} value'/);
      expect(parsePrometheus('# HELP a_b x\n# TYPE a_b gauge\na_b two\n').errors.join()).toMatch(/bad value/);
      expect(parsePrometheus('# HELP a_b x\n# TYPE a_b gauge\n# HELP c x\nc 1\n').errors.join()).toMatch(/no HELP and TYPE|no TYPE/);
    });
  });

  describe('/metrics and /health over HTTP', () => {
    let monitor: Awaited<ReturnType<typeof startMonitor>>;
    let base: string;

    beforeAll(async () => {
      monitor = await startMonitor({ pool, port: 0, host: '127.0.0.1', thresholds: T });
      base = `http://127.0.0.1:${monitor.port}`;
    });
    afterAll(async () => {
      await monitor?.close();
    });

    it('picks a free port and answers 404 JSON for anything else', async () => {
      expect(monitor.port).toBeGreaterThan(0);
      const r = await get(`${base}/nope`);
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toMatch(/application\/json/);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'not found', path: '/nope' });
    });

    it('/health is 200 when healthy, 200 on a warning, 503 when critical', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 100 });
      let r = await get(`${base}/health`);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/application\/json/);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'healthy' });

      await insertRun({ table: 'drivers', finishedMinAgo: 3, read: 100, written: 80, heldBack: 20 }); // 20 / 200 = 10%
      r = await get(`${base}/health?verbose=1`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).status).toBe('warning');

      await insertRun({ table: 'orders', finishedMinAgo: 31, read: 5, written: 5 });
      r = await get(`${base}/health`);
      expect(r.status).toBe(503);
      const body = JSON.parse(r.body) as HealthReport;
      expect(body.status).toBe('critical');
      expect(body.checks.find((c) => c.name === 'sync_lag' && c.details?.table === 'orders')?.status).toBe('critical');
    });

    it('/metrics is valid Prometheus text whose values match the rows in sync_runs', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 120, written: 100, unchanged: 15, heldBack: 5, conflicts: 4 });
      await insertRun({ table: 'clients', finishedMinAgo: 8, startedMinAgo: 9, read: 30, written: 25, unchanged: 5, conflicts: 1 });
      await insertRun({ table: 'clients', status: 'failed', finishedMinAgo: 1, error: 'x' });
      await insertRun({ table: 'drivers', finishedMinAgo: 40, read: 7, written: 7 });
      await insertRun({ table: 'deliveries', direction: 'new-to-legacy', status: 'failed', finishedMinAgo: 4 });
      await pool.query(
        `INSERT INTO sync_held_back (table_name, direction, row_id, reason_kind, reason, raw, run_id)
         VALUES ('clients', 'legacy-to-new', 1, 'encoding', 'x', '{}', 'r'), ('clients', 'legacy-to-new', 2, 'encoding', 'x', '{}', 'r')`,
      );
      await pool.query(`INSERT INTO sync_consistency_reports (id, status, finished_at, differences) VALUES ('c1', 'completed', now(), 7)`);

      const r = await get(`${base}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const p = parsePrometheus(r.body);
      expect(p.errors).toEqual([]);

      const types = Object.fromEntries([...p.families.values()].map((f) => [f.name, f.type]));
      expect(types).toMatchObject({
        luckygas_sync_lag_seconds: 'gauge',
        luckygas_sync_rows_total: 'counter',
        luckygas_sync_run_errors: 'gauge',
        luckygas_sync_conflicts: 'gauge',
        luckygas_sync_held_back_rows: 'gauge',
        luckygas_sync_consistency_differences: 'gauge',
        luckygas_sync_health_status: 'gauge',
        luckygas_sync_database_up: 'gauge',
        luckygas_sync_cycle_duration_seconds: 'histogram',
        luckygas_sync_activity_duration_seconds: 'histogram',
        luckygas_process_cpu_user_seconds_total: 'counter',
      });

      const c = { table: 'clients', direction: 'legacy-to-new' };
      expect(sampleValue(p, 'luckygas_sync_rows_total', { ...c, outcome: 'written' })).toBe(125);
      expect(sampleValue(p, 'luckygas_sync_rows_total', { ...c, outcome: 'unchanged' })).toBe(20);
      expect(sampleValue(p, 'luckygas_sync_rows_total', { ...c, outcome: 'held_back' })).toBe(5);
      expect(sampleValue(p, 'luckygas_sync_rows_total', { table: 'drivers', direction: 'legacy-to-new', outcome: 'written' })).toBe(7);
      expect(sampleValue(p, 'luckygas_sync_run_errors', c)).toBe(1);
      expect(sampleValue(p, 'luckygas_sync_run_errors', { table: 'drivers', direction: 'legacy-to-new' })).toBe(0);
      expect(sampleValue(p, 'luckygas_sync_run_errors', { table: 'deliveries', direction: 'new-to-legacy' })).toBe(1);
      expect(sampleValue(p, 'luckygas_sync_conflicts', { table: 'clients' })).toBe(5);
      expect(sampleValue(p, 'luckygas_sync_held_back_rows', c)).toBe(2);
      expect(sampleValue(p, 'luckygas_sync_held_back_rows', { table: 'drivers', direction: 'legacy-to-new' })).toBe(0);
      expect(sampleValue(p, 'luckygas_sync_consistency_differences')).toBe(7);
      expect(sampleValue(p, 'luckygas_sync_database_up')).toBe(1);

      const clientsLag = sampleValue(p, 'luckygas_sync_lag_seconds', c)!;
      expect(clientsLag).toBeGreaterThanOrEqual(175);
      expect(clientsLag).toBeLessThan(240);
      expect(sampleValue(p, 'luckygas_sync_lag_seconds', { table: 'drivers', direction: 'legacy-to-new' })).toBeGreaterThanOrEqual(40 * 60 - 5);
      expect(sampleValue(p, 'luckygas_sync_lag_seconds', { table: 'deliveries', direction: 'new-to-legacy' })).toBe(Infinity);
      // drivers is 40 minutes behind and deliveries never completed: critical.
      expect(sampleValue(p, 'luckygas_sync_health_status')).toBe(3);
    });

    it('reports health_status 0 when healthy and 1 on info', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 100, written: 100 });
      let p = parsePrometheus((await get(`${base}/metrics`)).body);
      expect(sampleValue(p, 'luckygas_sync_health_status')).toBe(0);
      await insertRun({ table: 'drivers', finishedMinAgo: 2, read: 100, written: 100, conflicts: 30 });
      p = parsePrometheus((await get(`${base}/metrics`)).body);
      expect(sampleValue(p, 'luckygas_sync_health_status')).toBe(1);
    });

    it('shows observeActivity and observeCycle in the histogram buckets', async () => {
      const before = parsePrometheus((await get(`${base}/metrics`)).body);
      const bucket = (p: Parsed, le: string) => sampleValue(p, 'luckygas_sync_activity_duration_seconds_bucket', { activity: 'fetchBatch', le }) ?? 0;
      const count = (p: Parsed) => sampleValue(p, 'luckygas_sync_activity_duration_seconds_count', { activity: 'fetchBatch' }) ?? 0;
      observeActivity('fetchBatch', 0.3);
      observeActivity('fetchBatch', 0.3);
      observeActivity('fetchBatch', 7);
      observeActivity('fetchBatch', -1); // ignored
      observeCycle(12);
      const after = parsePrometheus((await get(`${base}/metrics`)).body);
      expect(after.errors).toEqual([]);
      expect(bucket(after, '0.25') - bucket(before, '0.25')).toBe(0);
      expect(bucket(after, '0.5') - bucket(before, '0.5')).toBe(2);
      expect(bucket(after, '10') - bucket(before, '10')).toBe(3);
      expect(bucket(after, '+Inf') - bucket(before, '+Inf')).toBe(3);
      expect(count(after) - count(before)).toBe(3);
      expect((sampleValue(after, 'luckygas_sync_activity_duration_seconds_sum', { activity: 'fetchBatch' }) ?? 0) - (sampleValue(before, 'luckygas_sync_activity_duration_seconds_sum', { activity: 'fetchBatch' }) ?? 0)).toBeCloseTo(7.6);
      const cycles = (p: Parsed, le: string) => sampleValue(p, 'luckygas_sync_cycle_duration_seconds_bucket', { le }) ?? 0;
      expect(cycles(after, '10') - cycles(before, '10')).toBe(0);
      expect(cycles(after, '15') - cycles(before, '15')).toBe(1);
    });

    it('still answers /metrics and /health when PostgreSQL is unreachable', async () => {
      const dead = new pg.Pool({ connectionString: 'postgresql://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
      dead.on('error', () => {});
      const m = await startMonitor({ pool: dead, port: 0, host: '127.0.0.1', thresholds: T });
      try {
        const h = await get(`http://127.0.0.1:${m.port}/health`);
        expect(h.status).toBe(503);
        expect(JSON.parse(h.body).checks[0]).toMatchObject({ name: 'database', status: 'critical' });
        const r = await get(`http://127.0.0.1:${m.port}/metrics`);
        expect(r.status).toBe(200);
        const p = parsePrometheus(r.body);
        expect(p.errors).toEqual([]);
        expect(sampleValue(p, 'luckygas_sync_database_up')).toBe(0);
        expect(sampleValue(p, 'luckygas_sync_health_status')).toBe(3);
        expect(p.families.get('luckygas_sync_rows_total')?.samples).toEqual([]);
      } finally {
        await m.close();
        await dead.end();
      }
    });

    it('gives a registry of its own, separate from the global prom-client one', async () => {
      const { register } = await import('prom-client');
      const reg = createMetricsRegistry(pool, T);
      expect(reg).not.toBe(register);
      expect(register.getSingleMetric('luckygas_sync_lag_seconds')).toBeUndefined();
      expect(register.getSingleMetric('luckygas_sync_activity_duration_seconds')).toBeUndefined();
      expect(reg.getSingleMetric('luckygas_sync_lag_seconds')).toBeDefined();
    });
  });

  describe('metrics for the alert rules', () => {
    let monitor: Awaited<ReturnType<typeof startMonitor>>;
    const scrape = async () => parsePrometheus((await get(`http://127.0.0.1:${monitor.port}/metrics`)).body);

    beforeAll(async () => {
      monitor = await startMonitor({ pool, port: 0, host: '127.0.0.1', thresholds: T, tables: [{ table: 'deliveries', direction: 'new-to-legacy' }] });
    });
    afterAll(async () => {
      await monitor?.close();
    });

    it('counts the cycles begun since each table last completed', async () => {
      // cycle-1: both complete; cycle-2: drivers fails; cycle-3: drivers still running.
      await insertRun({ table: 'clients', cycle: 'cycle-1', startedMinAgo: 30, finishedMinAgo: 29 });
      await insertRun({ table: 'drivers', cycle: 'cycle-1', startedMinAgo: 30, finishedMinAgo: 29 });
      await insertRun({ table: 'clients', cycle: 'cycle-2', startedMinAgo: 20, finishedMinAgo: 19 });
      await insertRun({ table: 'drivers', cycle: 'cycle-2', status: 'failed', startedMinAgo: 20, finishedMinAgo: 19 });
      await insertRun({ table: 'clients', cycle: 'cycle-3', startedMinAgo: 10, finishedMinAgo: 9 });
      await insertRun({ table: 'drivers', cycle: 'cycle-3', status: 'running', startedMinAgo: 10, finishedMinAgo: null });
      const p = await scrape();
      expect(p.errors).toEqual([]);
      expect(sampleValue(p, 'luckygas_sync_cycles_since_completed', { table: 'clients', direction: 'legacy-to-new' })).toBe(0);
      expect(sampleValue(p, 'luckygas_sync_cycles_since_completed', { table: 'drivers', direction: 'legacy-to-new' })).toBe(2);
      // Configured, never run: every cycle counts.
      expect(sampleValue(p, 'luckygas_sync_cycles_since_completed', { table: 'deliveries', direction: 'new-to-legacy' })).toBe(3);
    });

    it('gives the health check\'s error and conflict rates', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2, read: 200, written: 100, heldBack: 12, conflicts: 15 });
      const p = await scrape();
      const report = await health();
      expect(sampleValue(p, 'luckygas_sync_error_rate')).toBeCloseTo(12 / 200);
      expect(sampleValue(p, 'luckygas_sync_conflict_rate')).toBeCloseTo(15 / 100);
      expect(sampleValue(p, 'luckygas_sync_error_rate')).toBeCloseTo(check(report, 'error_rate').details?.rate as number);
    });

    it('counts conflicts awaiting a decision per table, and the age of the oldest', async () => {
      await insertRun({ table: 'clients', finishedMinAgo: 2 });
      const conflict = (table: string, status: string, hoursAgo: number) =>
        pool.query(
          `INSERT INTO sync_conflicts (run_id, table_name, rule, outcome, status, legacy_version, new_version, resolved, created_at)
           VALUES ('run-x', $1, 'merge_fields', 'manual', $2, '{}', '{}', '{}', now() - make_interval(hours => $3))`,
          [table, status, hoursAgo],
        );
      await conflict('deliveries', 'open', 30);
      await conflict('deliveries', 'open', 2);
      await conflict('deliveries', 'resolved', 50);
      await conflict('drivers', 'resolved', 50);
      const p = await scrape();
      expect(sampleValue(p, 'luckygas_sync_open_conflicts', { table: 'deliveries' })).toBe(2);
      expect(sampleValue(p, 'luckygas_sync_open_conflicts', { table: 'clients' })).toBe(0);
      const age = sampleValue(p, 'luckygas_sync_open_conflict_age_seconds', { table: 'deliveries' })!;
      expect(age).toBeGreaterThanOrEqual(30 * 3600 - 5);
      expect(age).toBeLessThan(30 * 3600 + 60);
      expect(sampleValue(p, 'luckygas_sync_open_conflict_age_seconds', { table: 'drivers' })).toBeUndefined();
    });
  });

  describe('task queue pollers, from Temporal', () => {
    const queues = { core: `monitor-test-core-${randomUUID()}`, legacy: `monitor-test-legacy-${randomUUID()}` };
    const envWith = (temporalAddress: string): AppEnv =>
      loadEnv({
        DATABASE_URL: db.url,
        REDIS_URL: process.env.TEST_REDIS_URL,
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_TASK_QUEUE: queues.core,
        TEMPORAL_LEGACY_TASK_QUEUE: queues.legacy,
      });

    it('counts live pollers per task queue and task type', async () => {
      const probe = temporalProbe(envWith(process.env.TEST_TEMPORAL_ADDRESS!));
      const monitor = await startMonitor({ pool, port: 0, host: '127.0.0.1', thresholds: T, temporal: probe });
      const connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
      try {
        const scrape = async () => parsePrometheus((await get(`http://127.0.0.1:${monitor.port}/metrics`)).body);
        let p = await scrape();
        expect(p.errors).toEqual([]);
        expect(sampleValue(p, 'luckygas_sync_temporal_up')).toBe(1);
        expect(p.families.get('luckygas_sync_task_queue_pollers')?.samples.map((s) => ({ ...s.labels, pollers: s.value }))).toEqual([
          { task_queue: queues.core, task_type: 'workflow', pollers: 0 },
          { task_queue: queues.core, task_type: 'activity', pollers: 0 },
          { task_queue: queues.legacy, task_type: 'activity', pollers: 0 },
        ]);

        // A legacy agent: a worker with activities only, on the legacy queue.
        const agent = await Worker.create({ connection, taskQueue: queues.legacy, activities: { noop: async () => undefined } });
        const legacyPollers = (x: Parsed) => sampleValue(x, 'luckygas_sync_task_queue_pollers', { task_queue: queues.legacy, task_type: 'activity' });
        await agent.runUntil(async () => {
          const deadline = Date.now() + 30_000;
          while ((legacyPollers((p = await scrape())) ?? 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
        });
        expect(legacyPollers(p)).toBe(1);
        expect(sampleValue(p, 'luckygas_sync_task_queue_pollers', { task_queue: queues.core, task_type: 'activity' })).toBe(0);
      } finally {
        await connection.close();
        await monitor.close();
        await probe.close();
      }
    });

    it('answers /metrics promptly with temporal_up 0 when Temporal is unreachable', async () => {
      const probe = temporalProbe(envWith('127.0.0.1:1'));
      const monitor = await startMonitor({ pool, port: 0, host: '127.0.0.1', thresholds: T, temporal: probe });
      try {
        const started = Date.now();
        const r = await get(`http://127.0.0.1:${monitor.port}/metrics`);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(r.status).toBe(200);
        const p = parsePrometheus(r.body);
        expect(p.errors).toEqual([]);
        expect(sampleValue(p, 'luckygas_sync_temporal_up')).toBe(0);
        expect(p.families.get('luckygas_sync_task_queue_pollers')?.samples).toEqual([]);
        expect(sampleValue(p, 'luckygas_sync_database_up')).toBe(1);
      } finally {
        await monitor.close();
        await probe.close();
      }
    });
  });

  describe('what the alert rules and the dashboard name', () => {
    it('finds metric names and labels in PromQL (so the check below can fail)', () => {
      const use = promqlUse('x', 'histogram_quantile(0.95, sum by (le, activity) (rate(a_bucket{job="j"}[5m]))) > 1e3 and b offset 30m', ['table']);
      expect([...use.metrics.keys()]).toEqual(['a_bucket', 'b']);
      expect([...use.metrics.get('a_bucket')!]).toEqual(['job']);
      expect([...use.labels].sort()).toEqual(['activity', 'le', 'table']);
      const p = parsePrometheus('# HELP b x\n# TYPE b gauge\nb{table="t"} 1\n');
      expect(missingIn(p, use).sort()).toEqual(['x: b has no label activity', 'x: b has no label le', 'x: no series a_bucket']);
    });

    it('exists in a real /metrics scrape, with the labels used', async () => {
      // Bookkeeping rows enough for every series to appear, and Temporal from the test stack.
      await insertRun({ table: 'clients', cycle: 'cycle-1', finishedMinAgo: 2, read: 100, written: 90, unchanged: 5, heldBack: 5, conflicts: 3 });
      await insertRun({ table: 'deliveries', direction: 'new-to-legacy', cycle: 'cycle-1', status: 'failed', finishedMinAgo: 2 });
      await pool.query(`INSERT INTO sync_held_back (table_name, direction, row_id, reason_kind, reason, raw, run_id) VALUES ('clients', 'legacy-to-new', 1, 'encoding', 'x', '{}', 'r')`);
      await pool.query(`INSERT INTO sync_conflicts (run_id, table_name, rule, outcome, status, legacy_version, new_version, resolved) VALUES ('r', 'deliveries', 'merge_fields', 'manual', 'open', '{}', '{}', '{}')`);
      await pool.query(`INSERT INTO sync_consistency_reports (id, status, finished_at, differences) VALUES ('c1', 'completed', now(), 0)`);
      observeActivity('fetchBatch', 0.1);
      const probe = temporalProbe(loadEnv({ DATABASE_URL: db.url, REDIS_URL: process.env.TEST_REDIS_URL, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS }));
      const monitor = await startMonitor({ pool, port: 0, host: '127.0.0.1', thresholds: T, temporal: probe });
      try {
        const p = parsePrometheus((await get(`http://127.0.0.1:${monitor.port}/metrics`)).body);
        expect(p.errors).toEqual([]);
        const uses = deployedExpressions();
        const named = new Set(uses.flatMap((u) => [...u.metrics.keys()]));
        // Both files were read: the design's alerts and the dashboard's panels are among them.
        expect([...named]).toEqual(expect.arrayContaining(['luckygas_sync_lag_seconds', 'luckygas_sync_rows_total', 'luckygas_sync_task_queue_pollers', 'luckygas_sync_activity_duration_seconds_bucket']));
        expect(uses.flatMap((u) => missingIn(p, u))).toEqual([]);
      } finally {
        await monitor.close();
        await probe.close();
      }
    });
  });
});
