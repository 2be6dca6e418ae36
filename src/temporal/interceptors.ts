import { ApplicationFailure, type Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { ClaimMissingError, StreamClosedError } from '../claims';
import { ConfigError } from '../config/env';
import { DATABASE_CONFIG_ERROR, databaseConfigError } from '../db/configErrors';
import { LegacyFileError } from '../db/legacy';
import { observeActivity } from '../monitor/metrics';
import { TriggersMissingError } from '../plan';
import { ResolutionError } from '../review';
import { RollbackRequestError } from '../rollback';
import { TARGET_HEADER, type Target } from '../shared';
import { checkTarget, WrongTargetError } from './target';

/**
 * One interceptor for every activity of a worker: it refuses work started for another target,
 * turns the failures no retry can fix (bad configuration, a missing or foreign legacy file, a
 * vanished claim, bad input, a database that refuses its URL) into non-retryable failures with
 * a message a person can act on, and times each activity for the monitor.
 */

/** Errors whose message is for the operator and that no retry can fix: their name becomes the failure's type. */
const KNOWN = [ConfigError, LegacyFileError, ClaimMissingError, StreamClosedError, TriggersMissingError, RollbackRequestError, ResolutionError, WrongTargetError];

export function knownFailure(err: unknown, databaseUrl?: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  const database = databaseConfigError(err, databaseUrl);
  if (database) return ApplicationFailure.nonRetryable(database, DATABASE_CONFIG_ERROR);
  const known = KNOWN.find((k) => err instanceof k);
  if (known) return ApplicationFailure.nonRetryable((err as Error).message, known === ConfigError ? 'ConfigError' : (err as Error).name || known.name);
  return err;
}

export function activityInterceptors(o: { side: 'core' | 'legacy'; worker: string; target: Target; databaseUrl?: string }): ActivityInterceptorsFactory {
  return (ctx: Context) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        const started = performance.now();
        try {
          const header = input.headers[TARGET_HEADER];
          checkTarget(o.side, o.worker, o.target, header ? defaultPayloadConverter.fromPayload<Target>(header) : undefined);
          return await next(input);
        } catch (err) {
          throw knownFailure(err, o.databaseUrl);
        } finally {
          observeActivity(ctx.info.activityType, (performance.now() - started) / 1000);
        }
      },
    };
    return { inbound };
  };
}
