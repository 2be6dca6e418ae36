import { idArray, type Queryable } from '../db/postgres';
import type { RollbackPosition, RollbackSelection } from '../shared';

/**
 * sync_journal: the before and after image of every row the sync wrote, on either side,
 * under the run and batch that wrote it. What rollback restores.
 */

const COLUMNS = 'run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after';

/**
 * The tail of a set-based write that journals what it wrote: `INSERT INTO sync_journal ...
 * SELECT ... FROM <from>`, where `from` names the rows written (alias w, with id and
 * legacy_id) and `before`/`after` are SQL expressions of their images. $2 and $3 must be the
 * run id and the batch key.
 */
export function journalWritten(o: { table: string; operation: 'insert' | 'update' | 'delete'; from: string; before: string; after: string }): string {
  return `INSERT INTO sync_journal (${COLUMNS}) SELECT $2, $3, 'new', '${o.table}', w.id, w.legacy_id, '${o.operation}', ${o.before}, ${o.after} FROM ${o.from}`;
}

/**
 * A load's one entry for all the rows it inserted (ids firstId..lastId, all of them, into a
 * table that was empty): no images. `load_xid` is the loading transaction's id: a row whose
 * xmin is still that id has not been written since, which is how a rollback tells a loaded
 * row changed after the load (see selectionPage). Nothing when it inserted nothing.
 */
export async function journalInsertedRange(db: Queryable, e: { runId: string; batchKey: string; table: string; firstId: number; lastId: number }): Promise<void> {
  if (e.lastId < e.firstId) return;
  await db.query(
    `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, last_row_id, load_xid, legacy_id, operation, before, after)
     VALUES ($1, $2, 'new', $3, $4, $5, pg_current_xact_id()::text::bigint, NULL, 'insert', NULL, NULL)`,
    [e.runId, e.batchKey, e.table, e.firstId, e.lastId],
  );
}

export interface JournalEntry {
  side: 'new' | 'legacy';
  table: string;
  rowId: number;
  legacyId: number | null;
  operation: 'insert' | 'update' | 'delete';
  before: unknown;
  after: unknown;
}

/** Journals entries given as values (legacy writes, restores). */
export async function journal(db: Queryable, runId: string, batchKey: string, entries: JournalEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO sync_journal (${COLUMNS})
     SELECT $1, $2, x.side, x.table_name, x.row_id, x.legacy_id, x.operation, x.before, x.after
     FROM jsonb_to_recordset($3::jsonb) AS x(side text, table_name text, row_id bigint, legacy_id int, operation text, before jsonb, after jsonb)`,
    [
      runId,
      batchKey,
      JSON.stringify(
        entries.map((e) => ({ side: e.side, table_name: e.table, row_id: e.rowId, legacy_id: e.legacyId, operation: e.operation, before: e.before ?? null, after: e.after ?? null })),
      ),
    ],
  );
}

// ─────────────────────────────── what a rollback selects ───────────────────────────────

/** The selection as SQL over sync_journal (alias `a`); parameters $1..$4. */
const selected = (a: string) => `${a}.id <= $1
  AND ($2::text[] IS NULL OR ${a}.run_id = ANY($2::text[]))
  AND ($3::timestamptz IS NULL OR (${a}.created_at >= $3::timestamptz AND ${a}.run_id NOT IN (SELECT id FROM sync_runs WHERE kind = 'rollback')))
  AND ($4::text[] IS NULL OR ${a}.table_name = ANY($4::text[]))`;
const SELECTION = selected('j');
const selectionParams = (s: RollbackSelection) => [s.maxJournalId, s.runIds, s.since, s.tables];

/** A selected load range (alias r) inserted row j.row_id: that load's insert is the row's first entry. */
const LOADED = `EXISTS (SELECT 1 FROM sync_journal r WHERE r.last_row_id IS NOT NULL AND r.side = j.side AND r.table_name = j.table_name
  AND j.row_id BETWEEN r.row_id AND r.last_row_id AND ${selected('r')})`;

export async function lastJournalId(db: Queryable): Promise<number> {
  const res = await db.query<{ max: string | null }>(`SELECT max(id) AS max FROM sync_journal`);
  return Number(res.rows[0].max ?? 0);
}

/** Entries, and rows they touched: a load's range counts each of its rows, once with the later entries of the same row. */
export async function countSelection(db: Queryable, selection: RollbackSelection): Promise<{ entries: number; rows: number }> {
  const res = await db.query<{ entries: number; rows: number }>(
    `SELECT count(*)::int AS entries,
            (count(DISTINCT (j.side, j.table_name, j.row_id)) FILTER (WHERE j.last_row_id IS NULL AND NOT ${LOADED})
             + COALESCE(sum(j.last_row_id - j.row_id + 1), 0))::int AS rows
       FROM sync_journal j WHERE ${SELECTION}`,
    selectionParams(selection),
  );
  return res.rows[0];
}

/**
 * A row's entries in the selection, grouped: restored to the before-image of its earliest
 * entry (`target`), expected to hold the after-image of its latest (`expected`). A row whose
 * latest entry is a load's range has no after-image: it is as loaded while its xmin is the
 * load's transaction (`loadXid`).
 */
export interface JournalGroup {
  side: 'new' | 'legacy';
  table: string;
  rowId: number;
  lastId: number;
  legacyId: number | null;
  target: Record<string, unknown> | null;
  expected: Record<string, unknown> | null;
  loadXid: string | null;
}

/** Groups in the order a rollback takes them: newest change first, a load's rows from its last id down. */
const newer = (a: RollbackPosition, b: RollbackPosition) => b.id - a.id || b.rowId - a.rowId;

/** A load's range read this many ids at a time, for the rows it is the latest entry of. */
const RANGE_WINDOW = 2000;

/** The next page of grouped rows after `before` (the last group's position), in that order. */
export async function selectionPage(db: Queryable, selection: RollbackSelection, before: RollbackPosition | null, limit: number): Promise<JournalGroup[]> {
  const res = await db.query<{ side: 'new' | 'legacy'; table_name: string; row_id: string; last_id: string; legacy_id: number | null; target: Record<string, unknown> | null; expected: Record<string, unknown> | null }>(
    `WITH g AS (
       SELECT j.side, j.table_name, j.row_id, min(j.id) AS first_id, max(j.id) AS last_id FROM sync_journal j
       WHERE j.last_row_id IS NULL AND ${SELECTION} GROUP BY j.side, j.table_name, j.row_id)
     SELECT g.side, g.table_name, g.row_id, g.last_id, COALESCE(l.legacy_id, j.legacy_id) AS legacy_id,
            CASE WHEN ${LOADED} THEN NULL ELSE j.before END AS target, l.after AS expected
     FROM g JOIN sync_journal j ON j.id = g.first_id JOIN sync_journal l ON l.id = g.last_id
     WHERE ($5::bigint IS NULL OR g.last_id < $5)
     ORDER BY g.last_id DESC LIMIT $6`,
    [...selectionParams(selection), before?.id ?? null, limit],
  );
  const rows = res.rows.map((g): JournalGroup => ({
    side: g.side,
    table: g.table_name,
    rowId: Number(g.row_id),
    lastId: Number(g.last_id),
    legacyId: g.legacy_id,
    target: g.target,
    expected: g.expected,
    loadXid: null,
  }));
  return [...rows, ...(await loadedRows(db, selection, before, limit))].sort((a, b) => newer({ id: a.lastId, rowId: a.rowId }, { id: b.lastId, rowId: b.rowId })).slice(0, limit);
}

/**
 * The next rows of the selected loads' ranges (newest load first, ids downwards) whose latest
 * entry is the load: a row the sync wrote again later is grouped with its later entries.
 */
async function loadedRows(db: Queryable, selection: RollbackSelection, before: RollbackPosition | null, limit: number): Promise<JournalGroup[]> {
  const ranges = await db.query<{ id: string; table_name: string; row_id: string; last_row_id: string; load_xid: string }>(
    `SELECT j.id, j.table_name, j.row_id, j.last_row_id, j.load_xid FROM sync_journal j
      WHERE j.last_row_id IS NOT NULL AND ${SELECTION} AND ($5::bigint IS NULL OR j.id <= $5) ORDER BY j.id DESC`,
    [...selectionParams(selection), before?.id ?? null],
  );
  const out: JournalGroup[] = [];
  for (const r of ranges.rows) {
    const id = Number(r.id);
    const first = Number(r.row_id);
    for (let hi = before && before.id === id ? before.rowId - 1 : Number(r.last_row_id); hi >= first && out.length < limit; hi -= RANGE_WINDOW) {
      const later = await db.query<{ row_id: string }>(
        `SELECT DISTINCT j.row_id FROM sync_journal j WHERE j.side = 'new' AND j.table_name = $5 AND j.row_id BETWEEN $6 AND $7 AND j.last_row_id IS NULL AND ${SELECTION}`,
        [...selectionParams(selection), r.table_name, Math.max(first, hi - RANGE_WINDOW + 1), hi],
      );
      const skip = new Set(later.rows.map((x) => Number(x.row_id)));
      for (let rowId = hi; rowId > hi - RANGE_WINDOW && rowId >= first && out.length < limit; rowId--) {
        if (!skip.has(rowId)) out.push({ side: 'new', table: r.table_name, rowId, lastId: id, legacyId: null, target: null, expected: null, loadXid: r.load_xid });
      }
    }
    if (out.length >= limit) break;
  }
  return out;
}
/** Legacy rows of a table among these ids that the selection also changed on the legacy side. */
export async function legacySideRows(db: Queryable, selection: RollbackSelection, table: string, rowIds: number[]): Promise<Set<number>> {
  const res = await db.query<{ row_id: string }>(
    `SELECT DISTINCT j.row_id FROM sync_journal j WHERE ${SELECTION} AND j.side = 'legacy' AND j.table_name = $5 AND j.row_id = ANY($6::bigint[])`,
    [...selectionParams(selection), table, idArray(rowIds)],
  );
  return new Set(res.rows.map((r) => Number(r.row_id)));
}
