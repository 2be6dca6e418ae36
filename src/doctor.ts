import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { AppEnv } from './config/env';
import { createPool } from './db/postgres';
import { createRedis } from './db/redis';
import { redactUrl } from './db/configErrors';
import { PROJECT_ROOT } from './paths';
import { SCHEDULE_ID } from './shared';
import { livePollers } from './temporal/inProcessWorker';
import { SEARCH_ATTRIBUTES } from './temporal/searchAttributes';
import { describeTarget, targetOf } from './temporal/target';

/**
 * `luckygas-sync doctor`: the installation checked end to end, each check saying what it
 * found and, when something is wrong, what to do about it.
 */

export interface Finding {
  check: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do, when not ok. */
  fix?: string;
}

const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'migrations');
/** Clocks further apart than this make lag, schedules and journal times disagree. */
export const MAX_SKEW_MS = 5_000;

/** The committed migrations, in order. */
function migrations(): string[] {
  return readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export async function checkPostgres(env: AppEnv): Promise<{ findings: Finding[]; now: Date | null }> {
  const pool = createPool(env.DATABASE_URL, 1);
  const where = redactUrl(env.DATABASE_URL);
  try {
    const res = await pool.query<{ now: Date }>('SELECT now() AS now');
    const applied = await pool
      .query<{ migration_name: string }>(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`)
      .then((r) => new Set(r.rows.map((m) => m.migration_name)))
      .catch(() => new Set<string>());
    const missing = migrations().filter((m) => !applied.has(m));
    return {
      now: res.rows[0].now,
      findings: [
        { check: 'postgresql', ok: true, detail: `PostgreSQL answers at ${where}` },
        missing.length === 0
          ? { check: 'migrations', ok: true, detail: `all ${applied.size} migrations applied` }
          : { check: 'migrations', ok: false, detail: `not applied: ${missing.join(', ')}`, fix: 'apply them: npx prisma migrate deploy (or luckygas-sync stack up on the local stack)' },
      ],
    };
  } catch (err) {
    return { now: null, findings: [{ check: 'postgresql', ok: false, detail: `PostgreSQL at ${where}: ${(err as Error).message}`, fix: 'start PostgreSQL, or correct DATABASE_URL' }] };
  } finally {
    await pool.end().catch(() => {});
  }
}

export async function checkRedis(env: AppEnv): Promise<Finding> {
  const redis = createRedis(env, { maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null, lazyConnect: true });
  // With retries off, connect() rejects with "Connection is closed"; the error event has the cause.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    const pong = await redis.ping();
    return { check: 'redis', ok: pong === 'PONG', detail: `Redis answers at ${redactUrl(env.REDIS_URL)}` };
  } catch (err) {
    return { check: 'redis', ok: false, detail: `Redis at ${redactUrl(env.REDIS_URL)}: ${(cause ?? (err as Error)).message}`, fix: 'start Redis, or correct REDIS_URL' };
  } finally {
    redis.disconnect();
  }
}

/** The namespace, the search attributes the Web UI filters by, the workers of both task queues and their targets, the schedule. */
export async function checkTemporal(client: Client, env: AppEnv): Promise<Finding[]> {
  const out: Finding[] = [];
  try {
    await client.workflowService.describeNamespace({ namespace: env.TEMPORAL_NAMESPACE });
    out.push({ check: 'namespace', ok: true, detail: `namespace ${env.TEMPORAL_NAMESPACE} exists` });
  } catch (err) {
    return [{ check: 'namespace', ok: false, detail: `namespace ${env.TEMPORAL_NAMESPACE}: ${(err as Error).message}`, fix: 'create it: temporal operator namespace create --namespace <name>' }];
  }
  const attrs = await client.connection.operatorService.listSearchAttributes({ namespace: env.TEMPORAL_NAMESPACE });
  const have = new Set(Object.keys(attrs.customAttributes ?? {}));
  const missing = Object.keys(SEARCH_ATTRIBUTES).filter((a) => !have.has(a));
  out.push(
    missing.length === 0
      ? { check: 'search attributes', ok: true, detail: `${Object.keys(SEARCH_ATTRIBUTES).join(', ')} registered` }
      : {
          check: 'search attributes',
          ok: false,
          detail: `missing: ${missing.join(', ')}`,
          fix: `temporal operator search-attribute create --namespace ${env.TEMPORAL_NAMESPACE} ${missing.map((a) => `--name ${a} --type ${SEARCH_ATTRIBUTES[a]}`).join(' ')}`,
        },
  );
  const mine = targetOf(env, 'all');
  for (const q of [
    { name: env.TEMPORAL_TASK_QUEUE, role: 'core', type: 'workflow' as const, key: 'db' as const, want: mine.database, start: 'luckygas-sync worker --role core' },
    { name: env.TEMPORAL_LEGACY_TASK_QUEUE, role: 'legacy', type: 'activity' as const, key: 'legacy' as const, want: mine.legacy, start: 'luckygas-sync worker --role legacy (beside the legacy file)' },
  ]) {
    const pollers = await livePollers(client, env.TEMPORAL_NAMESPACE, q.name, q.type);
    if (pollers.length === 0) {
      out.push({ check: `${q.role} workers`, ok: false, detail: `no worker polls task queue ${q.name}`, fix: `start one: ${q.start}` });
      continue;
    }
    const foreign = pollers.filter((p) => {
      const served = new RegExp(` ${q.key}=(\\S+)`).exec(p.identity)?.[1];
      return served !== undefined && q.want !== undefined && served !== q.want;
    });
    out.push(
      foreign.length === 0
        ? { check: `${q.role} workers`, ok: true, detail: `${pollers.length} on task queue ${q.name}: ${pollers.map((p) => p.identity).join('; ')}` }
        : {
            check: `${q.role} workers`,
            ok: false,
            detail: `task queue ${q.name} is polled by workers for another target (${foreign.map((p) => p.identity).join('; ')}); this install is for ${describeTarget(mine)}`,
            fix: 'stop them, or give this install task queues of its own (TEMPORAL_TASK_QUEUE, TEMPORAL_LEGACY_TASK_QUEUE)',
          },
    );
  }
  try {
    const d = await client.schedule.getHandle(SCHEDULE_ID).describe();
    out.push(
      d.state.paused
        ? { check: 'schedule', ok: true, detail: `${SCHEDULE_ID} is paused: ${d.state.note ?? '(no note)'}`, fix: 'resume it when ready: luckygas-sync schedule resume' }
        : { check: 'schedule', ok: true, detail: `${SCHEDULE_ID} is active` },
    );
  } catch (err) {
    const absent = (err as Error).name === 'ScheduleNotFoundError';
    out.push({ check: 'schedule', ok: false, detail: absent ? `no schedule ${SCHEDULE_ID}` : (err as Error).message, fix: 'create it: luckygas-sync schedule create' });
  }
  return out;
}

/**
 * Temporal's clock: the time it stamps on a workflow started on a task queue nobody polls
 * (terminated at once).
 */
export async function temporalNow(client: Client): Promise<Date> {
  const handle = await client.workflow.start('DoctorClock', { taskQueue: 'luckygas-doctor-clock', workflowId: `doctor/clock-${Date.now()}`, workflowRunTimeout: '1 minute' });
  try {
    const d = await handle.describe();
    return d.startTime;
  } finally {
    await handle.terminate('doctor read the server clock').catch(() => {});
  }
}

export function checkClocks(host: Date, postgres: Date | null, temporal: Date | null): Finding {
  const skews = [
    postgres ? { name: 'PostgreSQL', ms: postgres.getTime() - host.getTime() } : null,
    temporal ? { name: 'Temporal', ms: temporal.getTime() - host.getTime() } : null,
  ].filter((s): s is { name: string; ms: number } => s !== null);
  const bad = skews.filter((s) => Math.abs(s.ms) > MAX_SKEW_MS);
  const detail = skews.map((s) => `${s.name} ${s.ms >= 0 ? '+' : ''}${(s.ms / 1000).toFixed(1)} s`).join(', ') || 'no other clock to compare with';
  return bad.length === 0
    ? { check: 'clocks', ok: true, detail: `this host against ${detail}` }
    : { check: 'clocks', ok: false, detail: `this host against ${detail} (more than ${MAX_SKEW_MS / 1000} s apart)`, fix: 'synchronise the clocks (NTP) of this host, the database server and the Temporal server' };
}
