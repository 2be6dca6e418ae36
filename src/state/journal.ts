import type { Queryable } from '../db/postgres';
import type { RollbackSelection } from '../shared';

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

/** The selection as SQL over sync_journal (alias j); parameters $1..$4. */
const SELECTION = `j.id <= $1
  AND ($2::text[] IS NULL OR j.run_id = ANY($2::text[]))
  AND ($3::timestamptz IS NULL OR (j.created_at >= $3::timestamptz AND j.run_id NOT IN (SELECT id FROM sync_runs WHERE kind = 'rollback')))
  AND ($4::text[] IS NULL OR j.table_name = ANY($4::text[]))`;
const selectionParams = (s: RollbackSelection) => [s.maxJournalId, s.runIds, s.since, s.tables];

export async function lastJournalId(db: Queryable): Promise<number> {
  const res = await db.query<{ max: string | null }>(`SELECT max(id) AS max FROM sync_journal`);
  return Number(res.rows[0].max ?? 0);
}

export async function countSelection(db: Queryable, selection: RollbackSelection): Promise<{ entries: number; rows: number }> {
  const res = await db.query<{ entries: number; rows: number }>(
    `SELECT count(*)::int AS entries, count(DISTINCT (j.side, j.table_name, j.row_id))::int AS rows FROM sync_journal j WHERE ${SELECTION}`,
    selectionParams(selection),
  );
  return res.rows[0];
}

/**
 * A row's entries in the selection, grouped: restored to the before-image of its earliest
 * entry (`target`), expected to hold the after-image of its latest (`expected`).
 */
export interface JournalGroup {
  side: 'new' | 'legacy';
  table: string;
  rowId: number;
  lastId: number;
  legacyId: number | null;
  target: Record<string, unknown> | null;
  expected: Record<string, unknown> | null;
}

/** The next page of grouped rows, newest change first, before `before` (a group's last entry id). */
export async function selectionPage(db: Queryable, selection: RollbackSelection, before: number | null, limit: number): Promise<JournalGroup[]> {
  const res = await db.query<{ side: 'new' | 'legacy'; table_name: string; row_id: string; last_id: string; legacy_id: number | null; target: Record<string, unknown> | null; expected: Record<string, unknown> | null }>(
    `WITH g AS (
       SELECT j.side, j.table_name, j.row_id, min(j.id) AS first_id, max(j.id) AS last_id FROM sync_journal j
       WHERE ${SELECTION} GROUP BY j.side, j.table_name, j.row_id)
     SELECT g.side, g.table_name, g.row_id, g.last_id, COALESCE(l.legacy_id, f.legacy_id) AS legacy_id, f.before AS target, l.after AS expected
     FROM g JOIN sync_journal f ON f.id = g.first_id JOIN sync_journal l ON l.id = g.last_id
     WHERE ($5::bigint IS NULL OR g.last_id < $5)
     ORDER BY g.last_id DESC LIMIT $6`,
    [...selectionParams(selection), before, limit],
  );
  return res.rows.map((g) => ({ side: g.side, table: g.table_name, rowId: Number(g.row_id), lastId: Number(g.last_id), legacyId: g.legacy_id, target: g.target, expected: g.expected }));
}

/** Legacy rows of a table among these ids that the selection also changed on the legacy side. */
export async function legacySideRows(db: Queryable, selection: RollbackSelection, table: string, rowIds: number[]): Promise<Set<number>> {
  const res = await db.query<{ row_id: string }>(
    `SELECT DISTINCT j.row_id FROM sync_journal j WHERE ${SELECTION} AND j.side = 'legacy' AND j.table_name = $5 AND j.row_id = ANY($6::bigint[])`,
    [...selectionParams(selection), table, rowIds],
  );
  return new Set(res.rows.map((r) => Number(r.row_id)));
}
