import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RawPage } from '../capture/legacyReader';
import type { SyncConfig, TableConfig } from '../config/tables';
import { inTransaction } from '../db/postgres';
import type { EudcMap } from '../encoding/eudc';
import type { BatchResult } from '../shared';
import { claimBatch, finishBatch } from '../state/batches';
import { heldIds, recordHeld, resolveHeld } from '../state/heldBack';
import { journalInsertedRange } from '../state/journal';
import { enqueueRows, hasQueued, settleRows } from '../state/rowQueue';
import { loadStates, STALE, statePartition } from '../state/rowState';
import { addBatchCounts } from '../state/runs';
import { collectGarbage } from './garbage';
import { loadColumns, STATE_COLUMNS, type PreparedPage } from './loadPage';
import { PagePreparers, type Prepared } from './loadThreads';
import { readParentIds } from './parentIds';
import { asSync } from './postgresSink';

/**
 * A table's first sync into an empty new table, the way pg_restore loads one: every page
 * COPYed (binary) in ONE transaction, the table's indexes dropped before and built once
 * after, each row's bookkeeping (its row state) COPYed beside it (on the table's first load,
 * into a partition of row states whose key is also built once after: loadStates), and one
 * journal entry for all the rows ("this batch inserted ids a..b").
 *
 * The new system never sees a half-built table: the transaction takes ACCESS EXCLUSIVE on the
 * table before it drops anything and holds it to its commit, so the new system's statements on
 * that table wait (for the load's duration) and then see it whole, indexes and all; until the
 * commit every row, and every dropped index, is invisible to others anyway.
 *
 * Foreign keys stay valid throughout, checked once per parent table instead of once per row:
 * the rows' parents come from one query per parent table that locks them FOR KEY SHARE (what
 * PostgreSQL's per-row check does, row by row), and the per-row checks are skipped with
 * session_replication_role = replica, when the sync's role may set it and the table has no
 * trigger but the sync's own (which ignore the sync's writes anyway). Otherwise the per-row
 * checks run as usual. A row whose parent is missing waits in the parent queue, as always.
 *
 * Savepoints are released as soon as their step succeeded: the rows are written by the
 * transaction itself, so that they carry its id as their xmin, which the journal's range
 * entry records (a rollback tells a loaded row written since by its xmin).
 *
 * Exactly once: the batch key is claimed in the same transaction; a retry after the commit
 * gets the first result back, one before it starts afresh (nothing of the first is left).
 */

export interface LoadSource {
  /** The next page, or null after the last. */
  next(): Promise<RawPage | null>;
}

const DIRECTION = 'legacy-to-new';

/**
 * Loads the table from `pages` when its new table is empty; null when it is not (or is held
 * by someone else past lock_timeout): the caller loads it page by page instead, reconciling.
 */
export async function loadEmptyTable(
  pool: pg.Pool,
  config: SyncConfig,
  cfg: TableConfig,
  eudc: EudcMap,
  pages: LoadSource,
  ctx: { runId: string; batchKey: string; threads: number; progress: (read: number) => void },
): Promise<BatchResult | null> {
  try {
    return await inTransaction(pool, (client) => loadInTransaction(client, config, cfg, eudc, pages, ctx));
  } catch (err) {
    // Rolled back, batch claim and all: the caller loads page by page.
    if (err instanceof TableNotEmpty) return null;
    throw err;
  }
}

/** The new table was found not empty once locked: the load's transaction is rolled back. */
class TableNotEmpty extends Error {}

async function loadInTransaction(
  client: pg.PoolClient,
  config: SyncConfig,
  cfg: TableConfig,
  eudc: EudcMap,
  pages: LoadSource,
  ctx: { runId: string; batchKey: string; threads: number; progress: (read: number) => void },
): Promise<BatchResult> {
  const mapping = cfg.mapping;
  const table = mapping.newTable;
  const prior = await claimBatch(client, { key: ctx.batchKey, runId: ctx.runId, table: mapping.legacyTable, direction: DIRECTION });
  if (prior) return prior;
  await asSync(client);
  if (!(await lockEmpty(client, table, mapping.legacyTable))) throw new TableNotEmpty(`${table} is not empty`);
  const earlier = await earlierEntries(client, mapping.legacyTable);
  const replica = await skipRowTriggers(client, table);
  const indexes = await dropIndexes(client, table);
  const parents = await readParentIds(client, cfg, replica);
  // What row states are left are stale (a load rolled back leaves them): the load reads every row again.
  await client.query(`DELETE FROM sync_row_state WHERE table_name = $1`, [mapping.legacyTable]);
  const states = await loadStates(client, mapping.legacyTable);
  const firstId = Number((await client.query<{ id: string }>(`SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id`, [table])).rows[0].id);
  let nextId = firstId;

  const columns = loadColumns(cfg);
  const totals = { read: 0, written: 0, heldBack: 0, waiting: 0, lastLegacyId: 0 };
  // The source is not asked again once it said it had no more.
  let ended = false;
  const read = async () => {
    const page = ended ? null : await pages.next();
    ended = page === null;
    return page;
  };
  // A table of one page is prepared here: threads pay for themselves from the second page on.
  const head: RawPage[] = [];
  while (head.length < 2 && !ended) {
    const page = await read();
    if (page) head.push(page);
  }
  const next = async () => head.shift() ?? read();
  const preparers = new PagePreparers(config, cfg, eudc, parents, { threads: head.length > 1 ? ctx.threads : 0 });
  // Pages being prepared on other threads while this one writes: each thread one ahead.
  const ahead: Promise<Prepared>[] = [];
  try {
    const fill = async () => {
      while (ahead.length < preparers.depth) {
        const page = await next();
        if (!page) return;
        ahead.push(handled(preparers.prepare(page)));
      }
    };
    let writing: Promise<void> | null = null;
    for (await fill(); ahead.length > 0; await fill()) {
      const { page: p, release } = await ahead.shift()!;
      // Ids in the order the rows are written: the load's rows are one range, firstId..
      const rows = Buffer.from(p.rows.buffer, p.rows.byteOffset, p.rows.byteLength);
      for (const at of p.idAt) rows.writeInt32BE(nextId++, at);
      totals.read += p.count;
      totals.written += p.idAt.length;
      totals.heldBack += p.held.length;
      totals.waiting += p.waiting.length;
      totals.lastLegacyId = Math.max(totals.lastLegacyId, p.lastId);
      // One page in PostgreSQL's hands while the next ones are prepared.
      await writing;
      writing = handled(writePage(client, mapping.legacyTable, table, columns, states.into, rows, p, ctx.runId, earlier).finally(release));
      ctx.progress(totals.read);
      // Each page read from Redis leaves some MB of buffers outside the heap, freed only when
      // their handles in the young generation (8–16 MB here, slow to fill while this thread
      // COPYs) are collected: 20–40 MB piled up in a load. Collected after each page, the 1M
      // load's core worker peak was 7–16 MB lower, its rate the same.
      collectGarbage('minor');
    }
    await writing;
  } finally {
    // Pages prepared and not written (the load failed) give their memory back all the same.
    for (const p of ahead) p.then((x) => x.release(), () => {});
    preparers.close();
  }

  if (nextId > firstId) await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, [table, nextId - 1]);
  await rebuildIndexes(client, indexes);
  await states.done();
  // Statistics of what the load wrote, committed with it (as pg_restore's users ANALYZE after a
  // restore): until autovacuum's next pass the planner takes the tables for what they held before,
  // and reads every row state of the table to find a batch's thousand. The columns the sync looks
  // rows up by (a quarter of the cost of every column), from a sample of 3,000 rows rather than
  // 30,000 (at 1M rows, ~15 ms instead of ~95): enough for the tables' sizes and that the keys are
  // unique. Autovacuum's pass after the commit does every column from the full sample.
  await client.query(`SET LOCAL default_statistics_target = 10`);
  await client.query(`ANALYZE ${table} (id, legacy_id), ${statePartition(mapping.legacyTable)} (table_name, legacy_id)`);
  await journalInsertedRange(client, { runId: ctx.runId, batchKey: ctx.batchKey, table, firstId, lastId: nextId - 1 });
  const result: BatchResult = {
    read: totals.read,
    written: totals.written,
    deleted: 0,
    unchanged: 0,
    heldBack: totals.heldBack,
    conflicts: 0,
    waiting: totals.waiting,
    cursor: { ts: null, id: totals.lastLegacyId },
    replayed: false,
    reviews: [],
  };
  await finishBatch(client, ctx.batchKey, result);
  await addBatchCounts(client, ctx.runId, result);
  return result;
}

/** The promise, its failure seen by whoever awaits it later (not reported as unhandled meanwhile, should something else fail first). */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * Whether the table has rows held back or queued from before the load: the pages settle those
 * they read. A load holds back and queues each row once (no page reads a row another did), so
 * without earlier ones, as on a first load, there is nothing to settle: two statements a page
 * and their lists of every id read are saved.
 */
async function earlierEntries(client: pg.PoolClient, legacyTable: string): Promise<{ held: boolean; queued: boolean }> {
  const held = (await heldIds(client, legacyTable, DIRECTION, Number.MIN_SAFE_INTEGER, 1)).length > 0;
  const queued = (await hasQueued(client, legacyTable, 'parent')) || (await hasQueued(client, legacyTable, 'repair'));
  return { held, queued };
}

/** A prepared page into PostgreSQL: its rows, their states, what was held back or waits, what left the queues. */
async function writePage(
  client: pg.PoolClient,
  legacyTable: string,
  table: string,
  columns: string[],
  states: string,
  rows: Buffer,
  p: PreparedPage,
  runId: string,
  earlier: { held: boolean; queued: boolean },
): Promise<void> {
  await copyIn(client, `COPY ${table} (${columns.join(', ')}) FROM STDIN (FORMAT binary)`, rows, p.idAt.length);
  await copyIn(client, `COPY ${states} (${STATE_COLUMNS}) FROM STDIN (FORMAT binary)`, p.states, p.idAt.length);
  await recordHeld(client, legacyTable, DIRECTION, p.held, runId);
  if (earlier.held) {
    const held = new Set(p.held.map((h) => h.legacyId));
    await resolveHeld(client, legacyTable, DIRECTION, p.read.filter((id) => !held.has(id)));
  }
  if (earlier.queued) await settleRows(client, legacyTable, p.read);
  await enqueueRows(client, legacyTable, 'parent', p.waiting.map((w) => ({ rowId: w.legacyId, reason: w.reason })), runId);
}

/**
 * ACCESS EXCLUSIVE on the table, and whether it is empty and the sync holds no current row
 * state of it (rows the new system deleted go through the merge, page by page); false when
 * not, or when the lock is not had within 10 s.
 */
async function lockEmpty(client: pg.PoolClient, table: string, legacyTable: string): Promise<boolean> {
  await client.query('SAVEPOINT lock_target');
  try {
    await client.query(`SET LOCAL lock_timeout = '10s'`);
    await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    await client.query(`SET LOCAL lock_timeout = 0`);
    await client.query('RELEASE SAVEPOINT lock_target');
  } catch (err) {
    if ((err as { code?: string }).code !== '55P03') throw err;
    await client.query('ROLLBACK TO SAVEPOINT lock_target');
    return false;
  }
  const taken = await client.query(
    `SELECT 1 FROM ${table} UNION ALL SELECT 1 FROM sync_row_state WHERE table_name = $1 AND content_hash <> $2 LIMIT 1`,
    [legacyTable, STALE],
  );
  return taken.rowCount === 0;
}

/**
 * session_replication_role = replica for the rest of the transaction, when the table has no
 * trigger but the sync's own and the sync's role may set it: no per-row foreign-key check,
 * no per-row trigger call. Whether it did.
 */
async function skipRowTriggers(client: pg.PoolClient, table: string): Promise<boolean> {
  const others = await client.query(
    `SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal AND p.proname NOT IN ('sync_capture_order_change', 'sync_keep_base') LIMIT 1`,
    [table],
  );
  if (others.rowCount) return false;
  await client.query('SAVEPOINT replica');
  try {
    await client.query(`SET LOCAL session_replication_role = replica`);
    await client.query('RELEASE SAVEPOINT replica');
    return true;
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    await client.query('ROLLBACK TO SAVEPOINT replica');
    return false;
  }
}

interface DroppedIndex {
  /** The statement that makes it again. */
  create: string;
}

/**
 * Drops the table's indexes that nothing else depends on (an index a foreign key of another
 * table refers to stays), each one's definition kept; none when the sync's role may not (the
 * load then maintains them row by row).
 */
async function dropIndexes(client: pg.PoolClient, table: string): Promise<DroppedIndex[]> {
  const res = await client.query<{ drop: string; create: string }>(
    `SELECT CASE WHEN c.oid IS NULL THEN format('DROP INDEX %s', i.indexrelid::regclass)
                 ELSE format('ALTER TABLE %s DROP CONSTRAINT %I', i.indrelid::regclass, c.conname) END AS drop,
            CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
                 ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', i.indrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) END AS create
       FROM pg_index i
       LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u')
      WHERE i.indrelid = $1::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype NOT IN ('p', 'u'))`,
    [table],
  );
  await client.query('SAVEPOINT drop_indexes');
  try {
    for (const r of res.rows) await client.query(r.drop);
    await client.query('RELEASE SAVEPOINT drop_indexes');
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    await client.query('ROLLBACK TO SAVEPOINT drop_indexes');
    return [];
  }
  return res.rows.map((r) => ({ create: r.create }));
}

async function rebuildIndexes(client: pg.PoolClient, indexes: DroppedIndex[]): Promise<void> {
  if (indexes.length === 0) return;
  // Sorting in memory rather than in temporary files; PostgreSQL's parallel workers help with large tables.
  await client.query(`SET LOCAL maintenance_work_mem = '128MB'`);
  for (const ix of indexes) await client.query(ix.create);
}

/** One COPY ... FROM STDIN of binary data (`rows` of them) on the transaction's connection. */
function copyIn(client: pg.PoolClient, sql: string, data: Uint8Array, rows: number): Promise<void> {
  if (rows === 0) return Promise.resolve();
  const stream = client.query(copyFrom(sql));
  return new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    stream.end(data);
  });
}
