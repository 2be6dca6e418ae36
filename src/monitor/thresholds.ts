import { z } from 'zod';
import { ConfigError } from '../config/env';

/**
 * When the monitor raises its voice (the design's "Alert Thresholds"): a table whose last
 * completed sync is older than `lagCriticalMinutes` is critical, an error rate above
 * `errorRateWarning` is a warning, a conflict rate above `conflictRateInfo` is worth knowing.
 * Rates are fractions (0.05 = 5 %) over the runs started in the last `windowMinutes`.
 */

/** A rate: a fraction in [0, 1] ("0.05") or a percentage ("5%"). */
const rate = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  return s.endsWith('%') ? Number(s.slice(0, -1).trim()) / 100 : Number(s);
}, z.number({ invalid_type_error: 'must be a fraction like 0.05 or a percentage like 5%' }).finite().min(0).max(1));

const minutes = (dflt: number) => z.coerce.number().finite().positive().max(7 * 24 * 60).default(dflt);

/** Unset and empty both mean "use the default", as in loadEnv. */
const given = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);

const thresholdsSchema = z.object({
  MONITOR_LAG_CRITICAL_MINUTES: minutes(30),
  MONITOR_ERROR_RATE_WARNING: rate.default(0.05),
  MONITOR_CONFLICT_RATE_INFO: rate.default(0.1),
  MONITOR_WINDOW_MINUTES: minutes(60),
});

export interface Thresholds {
  /** Lag above this many minutes since a table's last completed sync is critical. */
  lagCriticalMinutes: number;
  /** Error rate (held back + failed runs over rows read + failed runs) above this is a warning. */
  errorRateWarning: number;
  /** Conflict rate (conflicts over rows written) above this is info. */
  conflictRateInfo: number;
  /** The window the rates are computed over. */
  windowMinutes: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  lagCriticalMinutes: 30,
  errorRateWarning: 0.05,
  conflictRateInfo: 0.1,
  windowMinutes: 60,
});

/** The thresholds from MONITOR_* variables, defaults where unset; a bad value is a ConfigError. */
export function loadThresholds(env: NodeJS.ProcessEnv = process.env): Thresholds {
  const parsed = thresholdsSchema.safeParse({
    MONITOR_LAG_CRITICAL_MINUTES: given(env.MONITOR_LAG_CRITICAL_MINUTES),
    MONITOR_ERROR_RATE_WARNING: given(env.MONITOR_ERROR_RATE_WARNING),
    MONITOR_CONFLICT_RATE_INFO: given(env.MONITOR_CONFLICT_RATE_INFO),
    MONITOR_WINDOW_MINUTES: given(env.MONITOR_WINDOW_MINUTES),
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`configuration error:\n  ${lines.join('\n  ')}`);
  }
  const d = parsed.data;
  return {
    lagCriticalMinutes: d.MONITOR_LAG_CRITICAL_MINUTES,
    errorRateWarning: d.MONITOR_ERROR_RATE_WARNING,
    conflictRateInfo: d.MONITOR_CONFLICT_RATE_INFO,
    windowMinutes: d.MONITOR_WINDOW_MINUTES,
  };
}
