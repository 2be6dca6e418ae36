import { Option, type Command } from 'commander';
import { loadEnv, loadLegacyEnv } from '../../config/env';
import { logger } from '../../logger';
import { startMonitor } from '../../monitor/server';
import { loadThresholds } from '../../monitor/thresholds';
import { WORKER_ROLES, type WorkerRole } from '../../shared';
import { action, wholeNumber } from '../output';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run workers until SIGINT/SIGTERM: core (workflows and PostgreSQL, any number, anywhere), legacy (the legacy agent, beside the legacy file), or both')
    .addOption(new Option('--role <role>', 'core: the sync task queue; legacy: the legacy agent task queue, the only process that opens the legacy file; all: both').choices(WORKER_ROLES).default('all'))
    .option('--monitor-port <port>', 'also serve /metrics and /health on this port (0: any free port; needs a core role)', wholeNumber)
    .action(
      action(async (opts: { role: WorkerRole; monitorPort?: number }) => {
        // The legacy agent reaches Temporal and Redis only: it needs no DATABASE_URL.
        const env = opts.role === 'legacy' ? loadLegacyEnv() : loadEnv();
        const thresholds = loadThresholds();
        // The worker SDK loaded only by the command that needs it: the others start faster.
        const { createWorkers } = await import('../../temporal/worker');
        const workers = await createWorkers(env, opts.role);
        const monitor = opts.monitorPort === undefined || !workers.core ? null : await startMonitor({ pool: workers.core.pool, port: opts.monitorPort, thresholds });
        if (monitor) logger.info({ port: monitor.port }, 'monitor embedded: /metrics and /health');
        logger.info(
          {
            role: opts.role,
            taskQueues: [opts.role !== 'legacy' ? env.TEMPORAL_TASK_QUEUE : null, opts.role !== 'core' ? env.TEMPORAL_LEGACY_TASK_QUEUE : null].filter(Boolean),
            target: workers.target,
            namespace: env.TEMPORAL_NAMESPACE,
            temporal: env.TEMPORAL_ADDRESS,
          },
          'worker started',
        );
        try {
          // The SDK shuts the workers down gracefully on SIGINT/SIGTERM.
          await workers.run();
        } finally {
          await monitor?.close();
          await workers.close();
          logger.info('worker stopped');
        }
      }),
    );
}
