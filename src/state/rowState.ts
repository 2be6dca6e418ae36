import { escapeIdentifier, escapeLiteral } from 'pg';
import { idArray, type Queryable } from '../db/postgres';
import type { RowState, StateWrite } from '../reconcile/toNew';

/**
 * sync_row_state: per synced row, what the sync last saw of legacy (content hash, updated_at
 * text), the merge base both sides agreed on (NULL: the new row as it is now; a trigger keeps
 * the old row here at the first write made outside the sync), legacy's last-seen image while
 * legacy lacks the base, and an open review.
 *
 * Partitioned by table (sync_row_state_<table>), with no default partition: a table's
 * partition is made by whatever first writes its states (ensureStatePartition), or by its
 * first load (loadStates), which fills it before it has a key.
 */

/** Hash of a row state whose legacy row must be read again (a restored or repaired row): it matches no content. */
export const STALE = '';

export async function readRowStates(db: Queryable, table: string, legacyIds: number[]): Promise<Map<number, RowState>> {
  if (legacyIds.length === 0) return new Map();
  const res = await db.query<{ legacy_id: number; content_hash: string; legacy_ts: string | null; base: Record<string, unknown> | null; legacy_base: Record<string, unknown> | null; review_id: string | null }>(
    `SELECT legacy_id, content_hash, legacy_ts, base, legacy_base, review_id FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`,
    [table, idArray(legacyIds)],
  );
  return new Map(
    res.rows.map((r) => [
      r.legacy_id,
      { legacyId: r.legacy_id, contentHash: r.content_hash, legacyTs: r.legacy_ts, base: r.base, legacyBase: r.legacy_base, reviewId: r.review_id === null ? null : Number(r.review_id) },
    ]),
  );
}

/** Just the hashes and updated_at texts: what a probe compares a captured page with. */
export async function readSeen(db: Queryable, table: string, legacyIds: number[]): Promise<Map<number, { hash: string; ts: string | null }>> {
  if (legacyIds.length === 0) return new Map();
  const res = await db.query<{ legacy_id: number; content_hash: string; legacy_ts: string | null }>(
    `SELECT legacy_id, content_hash, legacy_ts FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`,
    [table, idArray(legacyIds)],
  );
  return new Map(res.rows.map((r) => [r.legacy_id, { hash: r.content_hash, ts: r.legacy_ts }]));
}

/**
 * Records what the batch saw and agreed on. `base: 'now'` clears the base (the sync just
 * wrote the new row, or found it as agreed); `keep` leaves it. Reviews get their conflict id.
 */
export async function writeRowStates(db: Queryable, table: string, writes: StateWrite[], reviewIds: Map<number, number> = new Map()): Promise<void> {
  if (writes.length === 0) return;
  await ensureStatePartition(db, table);
  // Existing states updated, new ones inserted, in one statement. NOT EXISTS rather than NOT IN:
  // PostgreSQL makes it a hashed anti-join whatever it estimates of upd, where NOT IN became a
  // scan of upd per row once the table was partitioned (1,000 states: 190 ms against 16).
  await db.query(
    `WITH x AS (SELECT * FROM jsonb_to_recordset($2::jsonb)
                  AS x(legacy_id int, hash text, ts text, keep_base boolean, keep_legacy_base boolean, legacy_base jsonb, review_id bigint)),
     upd AS (UPDATE sync_row_state s SET content_hash = x.hash, legacy_ts = x.ts,
               base = CASE WHEN x.keep_base THEN s.base ELSE NULL END,
               legacy_base = CASE WHEN x.keep_legacy_base THEN s.legacy_base ELSE x.legacy_base END,
               review_id = COALESCE(x.review_id, s.review_id), synced_at = now()
             FROM x WHERE s.table_name = $1 AND s.legacy_id = x.legacy_id RETURNING s.legacy_id)
     INSERT INTO sync_row_state (table_name, legacy_id, content_hash, legacy_ts, base, legacy_base, review_id, synced_at)
     SELECT $1, x.legacy_id, x.hash, x.ts, NULL, CASE WHEN x.keep_legacy_base THEN NULL ELSE x.legacy_base END, x.review_id, now()
     FROM x WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.legacy_id = x.legacy_id)
     ON CONFLICT (table_name, legacy_id) DO NOTHING`,
    [
      table,
      JSON.stringify(
        writes.map((w) => ({
          legacy_id: w.legacyId,
          hash: w.hash,
          ts: w.ts,
          keep_base: w.base === 'keep',
          keep_legacy_base: w.legacyBase === 'keep',
          legacy_base: w.legacyBase === 'keep' ? null : w.legacyBase,
          review_id: w.review ? (reviewIds.get(w.legacyId) ?? null) : null,
        })),
      ),
    ],
  );
}

export async function forgetRowStates(db: Queryable, table: string, legacyIds: number[]): Promise<void> {
  if (legacyIds.length === 0) return;
  await db.query(`DELETE FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`, [table, idArray(legacyIds)]);
}

/**
 * Rows to be read again from legacy (restored by a rollback, or queued by a repair): their
 * hash no longer matches any content, and the new row as it is now is the base.
 */
export async function markStale(db: Queryable, table: string, legacyIds: number[]): Promise<void> {
  if (legacyIds.length === 0) return;
  await db.query(
    `UPDATE sync_row_state SET content_hash = '${STALE}', base = NULL, legacy_base = NULL WHERE table_name = $1 AND legacy_id = ANY($2::int[]) AND review_id IS NULL`,
    [table, idArray(legacyIds)],
  );
}

/** After a write-back: legacy holds the order as written; the base is the order, kept explicitly if the order changed since. */
export async function recordWrittenBack(
  db: Queryable,
  table: string,
  rows: { legacyId: number; hash: string; ts: string; base: Record<string, unknown> | null }[],
): Promise<void> {
  if (rows.length === 0) return;
  await ensureStatePartition(db, table);
  await db.query(
    `INSERT INTO sync_row_state AS s (table_name, legacy_id, content_hash, legacy_ts, base, legacy_base, synced_at)
     SELECT $1, x.legacy_id, x.hash, x.ts, x.base, NULL, now() FROM jsonb_to_recordset($2::jsonb) AS x(legacy_id int, hash text, ts text, base jsonb)
     ON CONFLICT (table_name, legacy_id) DO UPDATE SET content_hash = EXCLUDED.content_hash, legacy_ts = EXCLUDED.legacy_ts,
       base = EXCLUDED.base, legacy_base = NULL, synced_at = now()`,
    [table, JSON.stringify(rows.map((r) => ({ legacy_id: r.legacyId, hash: r.hash, ts: r.ts, base: r.base })))],
  );
}

/** A resolved review: the row is free again; the resolution is its new base on the new side. */
export async function closeReview(db: Queryable, table: string, legacyId: number, legacyBase: Record<string, unknown> | null): Promise<void> {
  await db.query(`UPDATE sync_row_state SET review_id = NULL, base = NULL, legacy_base = $3 WHERE table_name = $1 AND legacy_id = $2`, [
    table,
    legacyId,
    legacyBase === null ? null : JSON.stringify(legacyBase),
  ]);
}

/** A review opened again (its resolution was rolled back). */
export async function reopenReview(db: Queryable, table: string, legacyId: number, reviewId: number): Promise<void> {
  await db.query(`UPDATE sync_row_state SET review_id = $3 WHERE table_name = $1 AND legacy_id = $2`, [table, legacyId, reviewId]);
}

/** The partition of sync_row_state that holds a table's states, quoted as an identifier. */
export function statePartition(table: string): string {
  return escapeIdentifier(`sync_row_state_${table}`);
}

/**
 * The table's partition of row states, made now if it has none (a table's states written for
 * the first time other than by a load). Attaching takes SHARE UPDATE EXCLUSIVE on the parent:
 * no other table's reads or writes of states wait for it. Should two writers make the same
 * table's partition at once, the second fails on its name and its activity is retried, by which
 * time the partition is there.
 */
export async function ensureStatePartition(db: Queryable, table: string): Promise<void> {
  if (await hasPartition(db, table)) return;
  // One query, so one transaction even on a pool: never a partition made and left unattached.
  await db.query(`${createPartition(table)}; ${attachPartition(table)}`);
}

/**
 * Where a load into an empty table COPYs its row states (`into`), and what to do once they
 * are all there (`done`). On a table's first load, a partition of its own with no index yet:
 * `done` attaches it, which builds its key in one pass (pg_restore's order: data, then
 * indexes). A key kept up row by row cost a 1M-row load 1.27 of PostgreSQL's 4.0 CPU-seconds;
 * built at the end, about 0.25. When the table has its partition already (a load again, after
 * a rollback), the states go through its key as any others do: detaching the partition would
 * lock every table's states.
 */
export async function loadStates(db: Queryable, table: string): Promise<{ into: string; done: () => Promise<void> }> {
  if (await hasPartition(db, table)) return { into: 'sync_row_state', done: async () => {} };
  // With a CHECK of its bound, added while empty, the attach need not scan the states to prove
  // they belong (a fifth of its time at 1M states); it is redundant once attached.
  const bound = escapeIdentifier(`sync_row_state_${table}_bound`);
  await db.query(`${createPartition(table)}; ALTER TABLE ${statePartition(table)} ADD CONSTRAINT ${bound} CHECK (table_name = ${escapeLiteral(table)})`);
  return {
    into: statePartition(table),
    done: async () => {
      await db.query(`${attachPartition(table)}; ALTER TABLE ${statePartition(table)} DROP CONSTRAINT ${bound}`);
    },
  };
}

async function hasPartition(db: Queryable, table: string): Promise<boolean> {
  const res = await db.query<{ found: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS found`, [statePartition(table)]);
  return res.rows[0].found;
}

/** The statement that makes the table's partition, not attached yet; with room on each page for a row's next version (see the fillfactor migration). */
function createPartition(table: string): string {
  return `CREATE TABLE ${statePartition(table)} (LIKE sync_row_state INCLUDING DEFAULTS) WITH (fillfactor = 90)`;
}

function attachPartition(table: string): string {
  return `ALTER TABLE sync_row_state ATTACH PARTITION ${statePartition(table)} FOR VALUES IN (${escapeLiteral(table)})`;
}
