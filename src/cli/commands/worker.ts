import type { Command } from 'commander';
import { loadEnv } from '../../config/env';
import { logger } from '../../logger';
import { createSyncWorker } from '../../temporal/worker';
import { action } from '../output';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a sync worker on the task queue until SIGINT/SIGTERM (run several for more throughput)')
    .action(
      action(async () => {
        const env = loadEnv();
        const sync = await createSyncWorker(env);
        logger.info({ taskQueue: env.TEMPORAL_TASK_QUEUE, namespace: env.TEMPORAL_NAMESPACE, temporal: env.TEMPORAL_ADDRESS }, 'worker started');
        try {
          // The SDK shuts the worker down gracefully on SIGINT/SIGTERM.
          await sync.worker.run();
        } finally {
          await sync.close();
          logger.info('worker stopped');
        }
      }),
    );
}
