import type { Command } from 'commander';
import { ConfigError, loadEnv } from '../../config/env';
import { loadSyncConfig } from '../../config/tables';
import { createPool } from '../../db/postgres';
import { computeHealth, type HealthOptions, type HealthReport } from '../../monitor/health';
import { startMonitor } from '../../monitor/server';
import { temporalProbe } from '../../monitor/temporal';
import { loadThresholds } from '../../monitor/thresholds';
import { action, EXIT, printJson, printTable } from '../output';

/** Exit code of `health`: 0 healthy or info, 1 warning, 3 critical. */
export function healthExitCode(report: HealthReport): number {
  if (report.status === 'critical') return EXIT.unavailable;
  if (report.status === 'warning') return EXIT.failed;
  return EXIT.ok;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`--port must be an integer from 0 to 65535, not '${value}'`);
  }
  return n;
}

/** The configured table/direction pairs, so a table that never ran is reported; none if the config cannot be read. */
function configuredTables(file: string): HealthOptions['tables'] {
  try {
    return loadSyncConfig(file).tables.flatMap((t) => t.directions.map((direction) => ({ table: t.legacyTable, direction })));
  } catch (err) {
    process.stderr.write(`note: table configuration not used (${(err as Error).message.split('\n')[0]}); checking the tables seen in sync_runs\n`);
    return undefined;
  }
}

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description('serve Prometheus metrics (GET /metrics: the sync from PostgreSQL, task queue pollers from Temporal) and the health report (GET /health) until SIGINT/SIGTERM')
    .option('--port <n>', 'port to listen on (default MONITOR_PORT, else 9090; 0 picks a free port)')
    .option('--host <h>', 'address to listen on', '0.0.0.0')
    .action(
      action(async (opts: { port?: string; host: string }) => {
        const env = loadEnv();
        const thresholds = loadThresholds();
        const port = opts.port !== undefined ? parsePort(opts.port) : env.MONITOR_PORT;
        const pool = createPool(env.DATABASE_URL, 4);
        const temporal = temporalProbe(env);
        let monitor: Awaited<ReturnType<typeof startMonitor>>;
        try {
          monitor = await startMonitor({ pool, port, host: opts.host, thresholds, tables: configuredTables(env.SYNC_TABLES_CONFIG), temporal });
        } catch (err) {
          await temporal.close();
          await pool.end().catch(() => {});
          throw err;
        }
        const shown = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host.includes(':') ? `[${opts.host}]` : opts.host;
        process.stderr.write(`monitor listening on ${opts.host}:${monitor.port}: http://${shown}:${monitor.port}/metrics and http://${shown}:${monitor.port}/health\n`);
        const signal = await new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        });
        process.stderr.write(`${signal}: stopping the monitor\n`);
        await monitor.close();
        await temporal.close();
        await pool.end();
      }),
    );

  program
    .command('health')
    .description('check the sync once: lag, error and conflict rates, consistency, held-back rows (exit 0 healthy/info, 1 warning, 3 critical)')
    .option('--json', 'print the report as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const env = loadEnv();
        const thresholds = loadThresholds();
        const pool = createPool(env.DATABASE_URL, 4);
        let report: HealthReport;
        try {
          report = await computeHealth(pool, thresholds, new Date(), { tables: configuredTables(env.SYNC_TABLES_CONFIG) });
        } finally {
          await pool.end().catch(() => {});
        }
        if (opts.json) printJson(report);
        else {
          process.stdout.write(`status: ${report.status} (checked ${report.checkedAt})\n\n`);
          printTable(report.checks.map((c) => ({ check: c.name, status: c.status, message: c.message })));
        }
        process.exitCode = healthExitCode(report);
      }),
    );
}
