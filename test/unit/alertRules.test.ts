import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { which } from '../../src/stack/processes';

// js-yaml comes with the test tools (jest, eslint); only load and dump are used, as in every version.
const yaml = require('js-yaml') as { load(text: string): unknown; dump(value: unknown): string };

const DIR = path.resolve(__dirname, '../../deploy/prometheus');

interface Rule {
  alert: string;
  expr: string;
}
interface RuleTest {
  name: string;
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const rules = () => (yaml.load(readFileSync(path.join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const ruleTests = () => (yaml.load(readFileSync(path.join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: RuleTest[] }).tests;

/** promtool is a binary the tests need, not a service: missing, these tests fail and say how to get it. */
function promtool(args: string[], cwd = DIR) {
  const exe = which('promtool');
  if (!exe) {
    throw new Error('promtool not found on PATH: install Debian\'s `prometheus` package (apt-get install prometheus), or run `LUCKYGAS_SETUP_PROMTOOL=1 bash scripts/setup.sh` as root');
  }
  const r = spawnSync(exe, args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it('pass promtool check rules and check config', () => {
    const rulesCheck = promtool(['check', 'rules', 'alerts.yml']);
    expect(rulesCheck.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(rulesCheck.status).toBe(0);
    const configCheck = promtool(['check', 'config', 'prometheus.yml']);
    expect(configCheck.output).toMatch(/is valid prometheus config file/);
    expect(configCheck.status).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it('include the design\'s alerts with their thresholds and severities', () => {
    const byName = new Map(rules().map((r) => [r.alert, r as Rule & { labels: { severity: string } }]));
    expect(byName.get('LuckygasSyncLagCritical')).toMatchObject({ expr: 'luckygas_sync_lag_seconds > 1800', labels: { severity: 'critical' } });
    expect(byName.get('LuckygasSyncErrorRateHigh')).toMatchObject({ expr: 'luckygas_sync_error_rate > 0.05', labels: { severity: 'warning' } });
    expect(byName.get('LuckygasSyncConflictRateHigh')).toMatchObject({ expr: 'luckygas_sync_conflict_rate > 0.1', labels: { severity: 'info' } });
  });

  it('have, for every alert, a test case that fires it and one that does not', () => {
    const cases = ruleTests().flatMap((t) => t.alert_rule_test ?? []);
    const missing: string[] = [];
    for (const { alert } of rules()) {
      const mine = cases.filter((c) => c.alertname === alert);
      if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) missing.push(`${alert}: no case that fires it`);
      if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) missing.push(`${alert}: no case where it stays quiet`);
    }
    expect(missing).toEqual([]);
  });

  it('have unit tests that fail when an alert can no longer fire', () => {
    // Each rule in turn replaced by one that never fires: promtool must report that alert.
    const work = mkdtempSync(path.join(tmpdir(), 'luckygas-alerts-'));
    try {
      copyFileSync(path.join(DIR, 'alerts.test.yml'), path.join(work, 'alerts.test.yml'));
      const original = yaml.load(readFileSync(path.join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] };
      for (const { alert } of rules()) {
        const broken = JSON.parse(JSON.stringify(original)) as typeof original;
        for (const r of broken.groups.flatMap((g) => g.rules)) if (r.alert === alert) r.expr = 'vector(1) > 2';
        writeFileSync(path.join(work, 'alerts.yml'), yaml.dump(broken));
        const r = promtool(['test', 'rules', 'alerts.test.yml'], work);
        expect({ alert, status: r.status }).toEqual({ alert, status: 1 });
        expect(r.output).toContain(`alertname: ${alert}`);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
