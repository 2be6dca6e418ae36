import { InvalidArgumentError } from 'commander';
import { ConfigError, loadEnv } from '../config/env';
import { loadSyncConfig, tableConfig } from '../config/tables';
import { databaseConfigError } from '../db/configErrors';
import { StackError } from '../stack/processes';

/** Exit codes a script can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

/** An error whose message is for the operator as it is, with the exit code it calls for. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** What the failed work reported anyway (a cycle's per-table summary). */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** DATABASE_URL as configured, for naming it in a message; undefined when the settings do not load. */
function configuredDatabaseUrl(): string | undefined {
  try {
    return loadEnv().DATABASE_URL;
  } catch {
    return undefined;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
}

/** A table of plain rows, columns padded to the widest cell (CJK counts double). */
export function printTable(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : v instanceof Date ? v.toISOString() : String(v));
  const width = (s: string) => [...s].reduce((n, ch) => n + (/[\u1100-\uFFEF\u{20000}-\u{3FFFF}]/u.test(ch) ? 2 : 1), 0);
  const widths = cols.map((c) => Math.max(width(c), ...rows.map((r) => width(cell(r[c])))));
  const line = (vals: string[]) => vals.map((v, i) => v + ' '.repeat(widths[i] - width(v))).join('  ').trimEnd();
  process.stdout.write(`${line(cols)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map((c) => cell(r[c])))}\n`);
}

/** Runs a command body; a known error becomes a one-line message and a meaningful exit code. */
export function action<A extends unknown[]>(body: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await body(...args);
    } catch (err) {
      const e = err as Error & { code?: string };
      const database = databaseConfigError(err, configuredDatabaseUrl());
      if (err instanceof CliError) {
        process.stderr.write(`error: ${e.message}\n`);
        process.exitCode = err.exitCode;
      } else if (err instanceof ConfigError || database) {
        process.stderr.write(`error: ${database ?? e.message}\n`);
        process.exitCode = EXIT.usage;
      } else if (err instanceof StackError || ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT'].includes(e.code ?? '')) {
        process.stderr.write(`error: ${e.message}\n`);
        process.exitCode = EXIT.unavailable;
      } else {
        process.stderr.write(`error: ${e.message}\n`);
        if (process.env.LOG_LEVEL === 'debug' && e.stack) process.stderr.write(`${e.stack}\n`);
        process.exitCode = EXIT.failed;
      }
    }
  };
}

/** Option parser for whole numbers ≥ 0: anything else is a usage error (exit 2). */
export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`not a whole number: ${value}`);
  return n;
}

/** Tables named on the command line must be configured (a ConfigError, exit 2, otherwise). */
export function checkTables(configFile: string, tables: string[] | undefined): void {
  const config = loadSyncConfig(configFile);
  for (const t of tables ?? []) tableConfig(config, t);
}
