import type { BatchResult } from '../shared';
import type { Queryable } from '../db/postgres';

/**
 * sync_batches: the batch keys already applied, with what each did. A batch commits under its
 * key once; a step run again after its commit gets the first result back and writes nothing.
 * Besides the sync's batches, two operator steps that drop their Redis claims when they
 * commit keep their results here (a rollback page's legacy record, a check's chunk): run
 * again, the claims are gone, and the first result is the answer.
 */

interface BatchRecord {
  key: string;
  runId: string;
  table: string;
  direction: string;
}

/** Claims a batch key inside the batch's transaction; the first result when it was applied before. */
export async function claimBatch<T extends object = BatchResult>(db: Queryable, batch: BatchRecord): Promise<(T & { replayed: true }) | null> {
  const res = await db.query(
    `INSERT INTO sync_batches (batch_key, run_id, table_name, direction, result) VALUES ($1, $2, $3, $4, '{}') ON CONFLICT DO NOTHING`,
    [batch.key, batch.runId, batch.table, batch.direction],
  );
  if (res.rowCount === 1) return null;
  return appliedBefore<T>(db, batch.key);
}

/** The result a batch key committed with, or null when it was never applied. */
export async function appliedBefore<T extends object = BatchResult>(db: Queryable, batchKey: string): Promise<(T & { replayed: true }) | null> {
  const prior = await db.query<{ result: T }>(`SELECT result FROM sync_batches WHERE batch_key = $1`, [batchKey]);
  return prior.rows[0] ? { ...prior.rows[0].result, replayed: true } : null;
}

export async function finishBatch(db: Queryable, batchKey: string, result: object): Promise<void> {
  await db.query(`UPDATE sync_batches SET result = $2 WHERE batch_key = $1`, [batchKey, JSON.stringify(result)]);
}
