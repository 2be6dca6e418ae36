import { ConfigError } from '../config/env';
import { StackError } from '../stack/processes';

/** Exit codes a script can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

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
      if (err instanceof ConfigError) {
        process.stderr.write(`error: ${e.message}\n`);
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
