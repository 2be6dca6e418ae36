import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PROJECT_ROOT } from '../../src/paths';
import type { ConsistencyResult } from '../../src/shared';
import { ConsistencyCheckWorkflow } from '../../workflows';
import { count, type SyncHarness } from './syncHarness';

/**
 * How a fault scenario ends: the consistency check over every table, plus the duplicate
 * counts the check cannot see (two PostgreSQL rows for one legacy row, a row inserted twice by
 * a retried batch, a legacy row written twice by a retried write-back). Each outcome is also
 * appended to the fault ledger, which the fault table reporter prints after the run.
 */

export interface FaultOutcome {
  scenario: string;
  /** Legacy rows the consistency check compared. */
  rowsChecked: number;
  /** Legacy rows with no PostgreSQL row, and orders never written back (neither explained by a held-back row). */
  lost: number;
  /** Rows present or inserted more than once, on either side. */
  duplicated: number;
  /** Unresolved held-back rows: skipped, with their reason. */
  heldBack: number;
  /** All differences the consistency check found. */
  differences: number;
  seconds: number;
  result: 'pass' | 'FAIL';
}

export const FAULT_LEDGER = path.join(PROJECT_ROOT, 'test-artifacts', 'fault-ledger.jsonl');

let checks = 0;

export async function checkAfterFault(h: SyncHarness, scenario: string, startedAt: number, expected: { heldBack?: number } = {}): Promise<FaultOutcome> {
  const report: ConsistencyResult = await h.client.workflow.execute(ConsistencyCheckWorkflow, {
    taskQueue: h.env.TEMPORAL_TASK_QUEUE,
    workflowId: `consistency-check/fault/${h.env.TEMPORAL_TASK_QUEUE}/${checks++}`,
    args: [{}],
  });
  const heldBack = await count(h.pool, 'SELECT count(*) FROM sync_held_back WHERE resolved_at IS NULL');
  const heldForWriteBack = await count(h.pool, `SELECT count(*) FROM sync_held_back WHERE resolved_at IS NULL AND direction = 'new-to-legacy'`);
  const sum = (f: (t: ConsistencyResult['tables'][number]) => number) => report.tables.reduce((n, t) => n + f(t), 0);

  let duplicated = await count(
    h.pool,
    `SELECT count(*) FROM (SELECT side, table_name, legacy_id FROM sync_journal
       WHERE operation = 'insert' AND legacy_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d`,
  );
  for (const t of report.tables) {
    duplicated += await count(h.pool, `SELECT count(*) - count(DISTINCT legacy_id) FROM ${t.newTable} WHERE legacy_id IS NOT NULL`);
  }
  duplicated += legacyDoubleInserts(h.legacyPath);

  const outcome: FaultOutcome = {
    scenario,
    rowsChecked: sum((t) => t.legacyRows),
    lost: sum((t) => t.missingInNew) + Math.max(0, sum((t) => t.counts.newUnlinked) - heldForWriteBack),
    duplicated,
    heldBack,
    differences: report.differences,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    result: 'FAIL',
  };
  if (outcome.lost === 0 && outcome.duplicated === 0 && outcome.differences === 0 && heldBack === (expected.heldBack ?? 0)) {
    outcome.result = 'pass';
  }
  mkdirSync(path.dirname(FAULT_LEDGER), { recursive: true });
  appendFileSync(FAULT_LEDGER, `${JSON.stringify(outcome)}\n`);
  return outcome;
}

/** Orders the write-back inserted into legacy more than once (from its own log in the legacy file). */
function legacyDoubleInserts(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const log = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'luckygas_sync_writeback'`).get();
    if (!log) return 0;
    const row = db
      .prepare(
        `SELECT count(*) AS n FROM (SELECT order_id FROM luckygas_sync_writeback
           WHERE json_extract(result, '$.operation') = 'insert' GROUP BY order_id HAVING count(*) > 1)`,
      )
      .get() as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}
