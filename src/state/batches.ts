import type { BatchResult } from '../shared';
import type { Queryable } from '../db/postgres';

/**
 * sync_batches: the batch keys already applied. A batch commits under its key once; an
 * activity retried after its commit gets the first result back and writes nothing.
 */

/** Claims a batch key inside the batch's transaction; the first result when it was applied before. */
export async function claimBatch(db: Queryable, batch: { key: string; runId: string; table: string; direction: string }): Promise<BatchResult | null> {
  const res = await db.query(
    `INSERT INTO sync_batches (batch_key, run_id, table_name, direction, result) VALUES ($1, $2, $3, $4, '{}') ON CONFLICT DO NOTHING`,
    [batch.key, batch.runId, batch.table, batch.direction],
  );
  if (res.rowCount === 1) return null;
  return appliedBefore(db, batch.key);
}

/** The result a batch key committed with, or null when it was never applied. */
export async function appliedBefore(db: Queryable, batchKey: string): Promise<BatchResult | null> {
  const prior = await db.query<{ result: BatchResult }>(`SELECT result FROM sync_batches WHERE batch_key = $1`, [batchKey]);
  return prior.rows[0] ? { ...prior.rows[0].result, replayed: true } : null;
}

export async function finishBatch(db: Queryable, batchKey: string, result: BatchResult): Promise<void> {
  await db.query(`UPDATE sync_batches SET result = $2 WHERE batch_key = $1`, [batchKey, JSON.stringify(result)]);
}
