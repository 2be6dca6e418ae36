import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { logger } from '../../logger';
import { startMonitor } from '../../monitor/server';
import { loadThresholds } from '../../monitor/thresholds';
import { createSyncWorker } from '../../temporal/worker';
import { action, wholeNumber } from '../output';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a sync worker on the task queue until SIGINT/SIGTERM (run several for more throughput)')
    .option('--monitor-port <port>', 'also serve /metrics and /health on this port (0: any free port)', wholeNumber)
    .action(
      action(async (opts: { monitorPort?: number }) => {
        const env = loadEnv();
        const thresholds = loadThresholds();
        const sync = await createSyncWorker(env);
        const monitor = opts.monitorPort === undefined ? null : await startMonitor({ pool: sync.deps.pool, port: opts.monitorPort, thresholds });
        if (monitor) logger.info({ port: monitor.port }, 'monitor embedded: /metrics and /health');
        logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE, namespace: env.TEMPORAL_NAMESPACE, temporal: env.TEMPORAL_ADDRESS }, 'worker started');
        try {
          // The SDK shuts the worker down gracefully on SIGINT/SIGTERM.
          await sync.worker.run();
        } finally {
          await monitor?.close();
          await sync.close();
          logger.info('worker stopped');
        }
      }),
    );
}
