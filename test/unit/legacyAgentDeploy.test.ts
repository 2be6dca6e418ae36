import { readFileSync } from 'node:fs';
import path from 'node:path';

// js-yaml comes with the test tools (jest, eslint); only load is used, as in every version.
const yaml = require('js-yaml') as { load(text: string): unknown };

/**
 * The compose file deploys the legacy agent apart from the scalable workers: it alone mounts
 * the legacy folder, runs once, and needs no PostgreSQL; the core workers never see the file.
 */

interface Service {
  command?: string[];
  volumes?: (string | { type: string; source: string; target: string })[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number | string };
}
const compose = yaml.load(readFileSync(path.resolve(__dirname, '../../docker-compose.temporal.yml'), 'utf8')) as { services: Record<string, Service> };
const mountsLegacy = (s: Service) => (s.volumes ?? []).some((v) => (typeof v === 'string' ? v.includes('LEGACY_DB_DIR') : v.source.includes('LEGACY_DB_DIR')));

describe('the legacy agent in docker-compose.temporal.yml', () => {
  it('is the only service that mounts the legacy folder', () => {
    const mounting = Object.entries(compose.services).filter(([, s]) => mountsLegacy(s)).map(([name]) => name);
    expect(mounting).toEqual(['legacy-agent']);
  });

  it('runs once, as the legacy role, without DATABASE_URL', () => {
    const agent = compose.services['legacy-agent'];
    expect(agent.command).toEqual(['worker', '--role', 'legacy']);
    expect(agent.deploy?.replicas).toBe(1);
    expect(agent.environment).not.toHaveProperty('DATABASE_URL');
    expect(agent.environment).toMatchObject({ LEGACY_DB_PATH: '/data/luckygas.db', TEMPORAL_LEGACY_TASK_QUEUE: 'luckygas-legacy' });
  });

  it('leaves the sync workers as core workers, scalable, with the same task queues', () => {
    const worker = compose.services['sync-worker'];
    expect(worker.command).toEqual(['worker', '--role', 'core']);
    expect(String(worker.deploy?.replicas)).toMatch(/SYNC_WORKER_REPLICAS/);
    expect(worker.environment).toMatchObject({ TEMPORAL_TASK_QUEUE: 'luckygas-sync', TEMPORAL_LEGACY_TASK_QUEUE: 'luckygas-legacy' });
  });
});
