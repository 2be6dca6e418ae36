import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

// js-yaml comes with the test tools (jest, eslint); only load is used, as in every version.
const yaml = require('js-yaml') as { load(text: string): unknown };

/**
 * The `monitoring` profile of docker-compose.temporal.yml, read as Compose would: no Docker
 * engine is needed to see that every file it mounts exists and that Prometheus, Grafana and the
 * monitor name each other consistently.
 */

const ROOT = path.resolve(__dirname, '../..');
const load = (file: string) => yaml.load(readFileSync(path.join(ROOT, file), 'utf8'));

interface Service {
  image?: string;
  profiles?: string[];
  command?: string[] | string;
  volumes?: (string | { source: string; target: string })[];
  environment?: Record<string, string>;
}
const compose = load('docker-compose.temporal.yml') as { services: Record<string, Service>; volumes: Record<string, unknown> };

/** Bind mounts of a service: host path (resolved) → container path. */
function binds(service: Service): { host: string; container: string }[] {
  return (service.volumes ?? [])
    .filter((v): v is string => typeof v === 'string' && v.startsWith('./'))
    .map((v) => {
      const [host, container] = v.split(':');
      return { host: path.join(ROOT, host), container };
    });
}

/** The host file behind a container path, through the service's bind mounts. */
function hostPath(service: Service, containerPath: string): string {
  const mount = binds(service).find((b) => containerPath === b.container || containerPath.startsWith(`${b.container}/`));
  if (!mount) throw new Error(`${containerPath} is not under a bind mount of the service`);
  return path.join(mount.host, path.relative(mount.container, containerPath));
}

describe('the monitoring profile (Prometheus and Grafana)', () => {
  const prometheus = compose.services.prometheus;
  const grafana = compose.services.grafana;

  it('adds exactly prometheus and grafana, only under the profile', () => {
    const profiled = Object.entries(compose.services).filter(([, s]) => s.profiles).map(([name, s]) => [name, s.profiles]);
    expect(profiled).toEqual([
      ['prometheus', ['monitoring']],
      ['grafana', ['monitoring']],
    ]);
    for (const s of [prometheus, grafana]) {
      expect(s.image).toMatch(/:\$\{[A-Z_]+:-v?\d+\.\d+\.\d+\}$/); // a pinned default version
      for (const b of binds(s)) expect({ mount: b.host, exists: existsSync(b.host) }).toEqual({ mount: b.host, exists: true });
      for (const v of s.volumes ?? []) {
        const name = typeof v === 'string' && !v.startsWith('./') ? v.split(':')[0] : null;
        if (name) expect(Object.keys(compose.volumes)).toContain(name);
      }
    }
  });

  it('has Prometheus load the alert rules and scrape the monitor on the port it listens on', () => {
    const args = ([] as string[]).concat(prometheus.command ?? []);
    const configFile = args.find((a) => a.startsWith('--config.file='))?.split('=')[1];
    expect(configFile).toBeDefined();
    const config = yaml.load(readFileSync(hostPath(prometheus, configFile!), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const rules = config.rule_files.map((f) => path.resolve(path.dirname(hostPath(prometheus, configFile!)), f));
    expect(rules).toContain(path.join(ROOT, 'deploy/prometheus/alerts.yml'));

    const job = config.scrape_configs.find((j) => j.job_name === 'luckygas-sync');
    const [host, port] = job!.static_configs[0].targets[0].split(':');
    const monitor = compose.services[host];
    expect(monitor).toBeDefined();
    expect(([] as string[]).concat(monitor.command ?? []).join(' ')).toContain(`--port ${port}`);
    // The alert on a missing scrape names this job.
    expect(readFileSync(path.join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')).toContain(`up{job="${job!.job_name}"}`);
  });

  it('has Grafana provisioned with that Prometheus and the dashboard', () => {
    const provisioning = binds(grafana).find((b) => b.container === '/etc/grafana/provisioning');
    expect(provisioning).toBeDefined();
    const datasources = (yaml.load(readFileSync(path.join(provisioning!.host, 'datasources/prometheus.yml'), 'utf8')) as { datasources: { uid: string; type: string; url: string }[] }).datasources;
    expect(datasources).toHaveLength(1);
    const url = new URL(datasources[0].url);
    expect(Object.keys(compose.services)).toContain(url.hostname);
    expect(url.hostname).toBe('prometheus');
    expect(url.port).toBe('9090');

    const providers = (yaml.load(readFileSync(path.join(provisioning!.host, 'dashboards/luckygas-sync.yml'), 'utf8')) as { providers: { options: { path: string } }[] }).providers;
    const dashboardFile = path.join(hostPath(grafana, providers[0].options.path), 'luckygas-sync.json');
    expect(hostPath(grafana, grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH)).toBe(dashboardFile);

    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as {
      uid: string;
      templating: { list: { name: string; type: string; current: { value: string } }[] };
      panels: { id: number; type: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
    };
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable?.current.value).toBe(datasources[0].uid);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      expect({ panel: p.id, datasource: p.datasource?.uid }).toEqual({ panel: p.id, datasource: `\${${variable!.name}}` });
      expect(p.targets?.length).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr).toMatch(/luckygas_/);
    }
  });
});
