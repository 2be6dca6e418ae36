import type pg from 'pg';
import type { TableConfig } from '../config/tables';
import { inTransaction } from '../db/postgres';
import type { EudcMap } from '../encoding/eudc';
import { convertRow, type ConvertedRow, type HeldRow, type RawRow } from '../mapping/convertRow';
import { applyToNew, type BatchContext, type BatchResult } from './applyToNew';
import { reconcile } from './reconcile';

/**
 * One batch of legacy rows, as read, to PostgreSQL: decode and map (convert), decide against
 * PostgreSQL (reconcile), write in one transaction (apply), within one activity.
 */

export interface RawBatch {
  rows: RawRow[];
  /** Legacy ids whose row is gone (trigger mode, held-back retries). */
  deleted: number[];
}

/** The result a batch key committed with, or null when it was never applied. */
export async function appliedBefore(pool: pg.Pool, batchKey: string): Promise<BatchResult | null> {
  const prior = await pool.query<{ result: BatchResult }>(`SELECT result FROM sync_batches WHERE batch_key = $1`, [batchKey]);
  return prior.rows[0] ? { ...prior.rows[0].result, replayed: true } : null;
}

export interface ConvertedBatch {
  converted: ConvertedRow[];
  /** Rows decoding or mapping held back. */
  held: HeldRow[];
  deleted: number[];
}

/** Decodes and maps a batch. Synchronous, and the raw rows are not needed after it: callers pass them in one expression, so they can be collected while the batch is applied. */
export function convertBatch(t: TableConfig, eudc: EudcMap, batch: RawBatch): ConvertedBatch {
  const converted: ConvertedRow[] = [];
  const held: HeldRow[] = [];
  for (const row of batch.rows) {
    const r = convertRow(row, t.mapping, t.textColumns, eudc);
    if (r.ok) converted.push(r.row);
    else held.push(r.held);
  }
  return { converted, held, deleted: batch.deleted };
}

/** reconcile → apply, in one transaction. */
export async function applyBatch(pool: pg.Pool, t: TableConfig, batch: ConvertedBatch, ctx: BatchContext): Promise<BatchResult> {
  const plan = await reconcile(pool, t, batch.converted, batch.held, batch.deleted);
  return inTransaction(pool, (client) => applyToNew(client, t.mapping, plan, ctx));
}
