import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { round } from './measure';

/**
 * The floor PostgreSQL sets: the rows the sync's initial load left in the new tables, copied
 * out, then loaded with plain COPY (binary) into an empty database of the same schema (its
 * indexes, foreign keys and triggers as they are, each row checked by them as it arrives), in
 * one transaction marked as the sync's own writes like the sync's (the outbox trigger lets
 * them pass). No decoding, no reconciling, no bookkeeping: just the final rows.
 */

export interface RawCopyRun {
  rows: Record<string, number>;
  totalRows: number;
  seconds: number;
  rowsPerSecond: number;
}

/** The tables in the order their foreign keys need. */
export async function rawCopy(sourceUrl: string, targetUrl: string, tables: string[], workDir: string): Promise<RawCopyRun> {
  const files = tables.map((t) => path.join(workDir, `raw-copy-${t}.bin`));
  const source = new pg.Client({ connectionString: sourceUrl });
  await source.connect();
  try {
    for (const [i, t] of tables.entries()) {
      await pipeline(source.query(copyTo(`COPY (SELECT * FROM ${t} ORDER BY id) TO STDOUT (FORMAT binary)`)), createWriteStream(files[i]));
    }
  } finally {
    await source.end();
  }
  const target = new pg.Client({ connectionString: targetUrl });
  await target.connect();
  const rows: Record<string, number> = {};
  try {
    const started = process.hrtime.bigint();
    await target.query('BEGIN');
    await target.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
    for (const [i, t] of tables.entries()) {
      const copy = copyFrom(`COPY ${t} FROM STDIN (FORMAT binary)`);
      await pipeline(createReadStream(files[i]), target.query(copy));
      rows[t] = copy.rowCount;
    }
    await target.query('COMMIT');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
    return { rows, totalRows, seconds: round(seconds, 2), rowsPerSecond: round(totalRows / seconds) };
  } finally {
    await target.end();
    for (const f of files) rmSync(f, { force: true });
  }
}
