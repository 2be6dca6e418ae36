import { ApplicationFailure, Context } from '@temporalio/activity';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { LegacyFileError, openLegacy } from '../src/db/legacy';
import { contentHash, rawImage } from '../src/mapping/convertRow';
import { TABLE_MAPPINGS, type LegacyTableName, type TableMapping } from '../src/mapping/tables';
import { imageDiff, imagesEqual, type RawImage } from '../src/sync/compare';
import { readByIds } from '../src/sync/legacyReader';
import { connectClient } from '../src/temporal/connection';
import { SCHEDULE_ID } from '../src/temporal/ids';
import type { ActivityDeps } from './deps';

/**
 * Rollback: the journal's before-images restored, newest change first, on both sides.
 *
 * Entries are grouped per row (side, table, row id) over the whole selection: a row changed
 * several times by the undone runs is compared once, with the after-image of its latest entry
 * (what the runs left), and restored to the before-image of its earliest entry (what was
 * there before them). That is what makes a rollback repeatable: a second run finds every row
 * equal to its target ("already restored") and changes nothing. A row equal to neither was
 * changed after the runs: a conflict, reported and skipped unless `force`.
 *
 * PostgreSQL: one transaction per page, a savepoint per row, the sync's origin set (the
 * orders outbox ignores the restores). Legacy: one short IMMEDIATE transaction per row,
 * logged in the file itself under the rollback id and journal id, so a retry after a crash
 * between the file and PostgreSQL finishes the PostgreSQL side instead of losing it.
 * The rollback's own changes are journaled under its own run id: a rollback is undoable.
 */

const LOG_TABLE = 'luckygas_sync_rollback';
const DIRECTION = 'legacy-to-new';
export const CONFLICT_SAMPLE = 50;

export interface RollbackRequest {
  runId?: string;
  since?: string;
  tables?: string[];
  dryRun?: boolean;
  force?: boolean;
  resumeSchedule?: boolean;
}

export interface RollbackSelection {
  /** Run mode: the run and every run under it (sync_runs.parent_id). */
  runIds: string[] | null;
  /** Since mode: journal entries created at or after this instant, rollbacks' own entries aside. */
  since: string | null;
  /** Journal table names (legacy and new names of the tables asked for), or every table. */
  tables: string[] | null;
  /** Entries after this id (written while the rollback runs, its own included) are not part of it. */
  maxJournalId: number;
}

export interface RollbackConflict {
  side: 'new' | 'legacy';
  table: string;
  rowId: number;
  legacyId?: number | null;
  reason: string;
}

export interface WatermarkChange {
  table: string;
  mode: 'timestamp' | 'trigger';
  from?: { ts: string | null; id: number } | null;
  to?: { ts: string | null; id: number };
  /** Trigger mode: legacy ids queued in the file's sync_queue for re-reading. */
  queued?: number;
}

export interface RollbackPageResult {
  rows: number;
  restored: number;
  alreadyRestored: number;
  conflicts: number;
  conflictSample: RollbackConflict[];
  restoredBySide: { new: number; legacy: number };
  /** Orders whose write-back was undone, queued in the outbox to be written back again. */
  requeuedOrders: number;
  watermarks: WatermarkChange[];
  /** Continue with groups whose latest entry id is below this. */
  before: number | null;
  done: boolean;
}

interface Group {
  side: 'new' | 'legacy';
  table: string;
  rowId: number;
  lastId: number;
  legacyId: number | null;
  target: Record<string, unknown> | null;
  expected: Record<string, unknown> | null;
}

interface LegacyRestore {
  operation: 'insert' | 'update' | 'delete';
  before: RawImage | null;
  after: RawImage | null;
  hash: string | null;
}

type Outcome = { kind: 'restored' } | { kind: 'already' } | { kind: 'conflict'; reason: string };

function nonRetryable(err: unknown): never {
  if (err instanceof LegacyFileError) throw ApplicationFailure.nonRetryable(err.message, 'LegacyFileError');
  throw err;
}

const mappingByNewTable = new Map<string, TableMapping>(Object.values(TABLE_MAPPINGS).map((m) => [m.newTable, m]));
const mappingByLegacyTable = (t: string): TableMapping | undefined => TABLE_MAPPINGS[t as LegacyTableName];

/** The new table's columns a restore writes and compares: the ones the sync manages. */
function managedColumns(m: TableMapping): string[] {
  return ['id', 'legacy_id', ...Object.keys(m.newColumns), ...m.parents.map((p) => p.newColumn), 'deleted_at'];
}

/** The selection as SQL over sync_journal (alias j); parameters $1..$4. */
const SELECTION = `j.id <= $1
  AND ($2::text[] IS NULL OR j.run_id = ANY($2::text[]))
  AND ($3::timestamptz IS NULL OR (j.created_at >= $3::timestamptz AND j.run_id NOT IN (SELECT id FROM sync_runs WHERE kind = 'rollback')))
  AND ($4::text[] IS NULL OR j.table_name = ANY($4::text[]))`;
const selectionParams = (s: RollbackSelection) => [s.maxJournalId, s.runIds, s.since, s.tables];

export function createRollbackActivities(deps: ActivityDeps) {
  const tableNames = (tables: string[]): string[] => {
    const out = new Set<string>();
    for (const t of tables) {
      const c = deps.config.tables.find((x) => x.legacyTable === t || x.newTable === t);
      if (!c) {
        throw ApplicationFailure.nonRetryable(
          `table '${t}' is not in the table configuration (configured: ${deps.config.tables.map((x) => `${x.legacyTable}/${x.newTable}`).join(', ')})`,
          'ConfigError',
        );
      }
      out.add(c.legacyTable).add(c.newTable);
    }
    return [...out];
  };

  async function runTree(runId: string): Promise<string[]> {
    const res = await deps.pool.query<{ id: string }>(
      `WITH RECURSIVE runs(id) AS (SELECT $1::text UNION SELECT r.id FROM sync_runs r JOIN runs ON r.parent_id = runs.id) SELECT id FROM runs`,
      [runId],
    );
    return res.rows.map((r) => r.id);
  }

  async function withClient<T>(body: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<T>): Promise<T> {
    const client = await connectClient(deps.env);
    try {
      return await body(client);
    } finally {
      await client.connection.close().catch(() => {});
    }
  }

  return {
    /** Pauses the sync cycle's schedule (running cycles finish); a missing schedule is not an error. */
    async pauseSyncSchedule(input: { note: string }): Promise<'paused' | 'already-paused' | 'not-found'> {
      return withClient(async (client) => {
        const handle = client.schedule.getHandle(SCHEDULE_ID);
        try {
          const d = await handle.describe();
          if (d.state.paused) return 'already-paused';
          await handle.pause(input.note);
          return 'paused';
        } catch (err) {
          if ((err as Error).name === 'ScheduleNotFoundError') return 'not-found';
          throw err;
        }
      });
    },

    async resumeSyncSchedule(input: { note: string }): Promise<'resumed' | 'not-found'> {
      return withClient(async (client) => {
        const handle = client.schedule.getHandle(SCHEDULE_ID);
        try {
          await handle.unpause(input.note);
          return 'resumed';
        } catch (err) {
          if ((err as Error).name === 'ScheduleNotFoundError') return 'not-found';
          throw err;
        }
      });
    },

    /**
     * Fails (retryably) while a sync run that the rollback concerns is still running: in run
     * mode the runs undone, in since mode any. A run recorded as running whose workflow is no
     * longer running (terminated) does not count.
     */
    async waitForQuietSync(input: { rollbackId: string; runId?: string; since?: string }): Promise<{ staleRuns: string[] }> {
      const runIds = input.runId ? await runTree(input.runId) : null;
      const running = await deps.pool.query<{ id: string; workflow_id: string }>(
        `SELECT id, workflow_id FROM sync_runs WHERE status = 'running' AND kind <> 'rollback' AND id <> $1 AND ($2::text[] IS NULL OR id = ANY($2::text[]))`,
        [input.rollbackId, runIds],
      );
      if (running.rows.length === 0) return { staleRuns: [] };
      const active = await withClient(async (client) => {
        const out: string[] = [];
        for (const r of running.rows) {
          try {
            const d = await client.workflow.getHandle(r.workflow_id).describe();
            if (d.status.name === 'RUNNING') out.push(r.workflow_id);
          } catch (err) {
            if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
          }
        }
        return out;
      });
      if (active.length > 0) {
        throw ApplicationFailure.retryable(`sync runs still running: ${active.join(', ')} (the schedule is paused; waiting for them to finish)`, 'SyncStillRunning');
      }
      // Recorded as running, but their workflows ended without saying so (terminated): not waited for.
      return { staleRuns: running.rows.map((r) => r.id) };
    },

    /** Validates the request, resolves the runs, fixes the selection and records the rollback as a run. */
    async beginRollback(input: { rollbackId: string; request: RollbackRequest }): Promise<{ selection: RollbackSelection; entries: number; rows: number }> {
      const r = input.request;
      if ((r.runId === undefined) === (r.since === undefined)) {
        throw ApplicationFailure.nonRetryable('give exactly one of runId (undo one sync run) or since (undo everything since an ISO time)', 'InvalidInput');
      }
      let since: string | null = null;
      if (r.since !== undefined) {
        const t = Date.parse(r.since);
        if (Number.isNaN(t)) throw ApplicationFailure.nonRetryable(`since '${r.since}' is not an ISO-8601 time`, 'InvalidInput');
        since = new Date(t).toISOString();
      }
      const tables = r.tables && r.tables.length > 0 ? tableNames(r.tables) : null;
      let runIds: string[] | null = null;
      if (r.runId !== undefined) {
        runIds = await runTree(r.runId);
        const known = await deps.pool.query(`SELECT 1 FROM sync_runs WHERE id = $1 OR parent_id = $1 UNION ALL SELECT 1 FROM sync_journal WHERE run_id = $1 LIMIT 1`, [r.runId]);
        if (known.rowCount === 0) throw ApplicationFailure.nonRetryable(`no sync run '${r.runId}' (see sync_runs, or the workflow ids in the Web UI)`, 'RunNotFound');
      }
      const max = await deps.pool.query<{ max: string | null }>(`SELECT max(id) AS max FROM sync_journal`);
      const selection: RollbackSelection = { runIds, since, tables, maxJournalId: Number(max.rows[0].max ?? 0) };
      const counts = await deps.pool.query<{ entries: number; rows: number }>(
        `SELECT count(*)::int AS entries, count(DISTINCT (j.side, j.table_name, j.row_id))::int AS rows FROM sync_journal j WHERE ${SELECTION}`,
        selectionParams(selection),
      );
      if (!r.dryRun) {
        await deps.pool.query(
          `INSERT INTO sync_runs (id, kind, workflow_id, status, details) VALUES ($1, 'rollback', $1, 'running', $2) ON CONFLICT (id) DO NOTHING`,
          [input.rollbackId, JSON.stringify({ request: r, selection })],
        );
      }
      return { selection, entries: counts.rows[0].entries, rows: counts.rows[0].rows };
    },

    /** One page of rows, newest change first. */
    async rollbackPage(input: {
      rollbackId: string;
      selection: RollbackSelection;
      before: number | null;
      limit: number;
      dryRun: boolean;
      force: boolean;
    }): Promise<RollbackPageResult> {
      const groupsRes = await deps.pool.query<{
        side: 'new' | 'legacy';
        table_name: string;
        row_id: string;
        last_id: string;
        legacy_id: number | null;
        target: Record<string, unknown> | null;
        expected: Record<string, unknown> | null;
      }>(
        `WITH g AS (
           SELECT j.side, j.table_name, j.row_id, min(j.id) AS first_id, max(j.id) AS last_id FROM sync_journal j
           WHERE ${SELECTION} GROUP BY j.side, j.table_name, j.row_id)
         SELECT g.side, g.table_name, g.row_id, g.last_id, COALESCE(l.legacy_id, f.legacy_id) AS legacy_id, f.before AS target, l.after AS expected
         FROM g JOIN sync_journal f ON f.id = g.first_id JOIN sync_journal l ON l.id = g.last_id
         WHERE ($5::bigint IS NULL OR g.last_id < $5)
         ORDER BY g.last_id DESC LIMIT $6`,
        [...selectionParams(input.selection), input.before, input.limit],
      );
      const groups: Group[] = groupsRes.rows.map((g) => ({
        side: g.side,
        table: g.table_name,
        rowId: Number(g.row_id),
        lastId: Number(g.last_id),
        legacyId: g.legacy_id,
        target: g.target,
        expected: g.expected,
      }));
      const result: RollbackPageResult = {
        rows: groups.length,
        restored: 0,
        alreadyRestored: 0,
        conflicts: 0,
        conflictSample: [],
        restoredBySide: { new: 0, legacy: 0 },
        requeuedOrders: 0,
        watermarks: [],
        before: groups.length > 0 ? groups[groups.length - 1].lastId : input.before,
        done: groups.length < input.limit,
      };
      if (groups.length === 0) return result;

      const page = new PageRun(deps, input.rollbackId, input.selection, input.dryRun, input.force, result);
      try {
        await page.run(groups);
      } finally {
        page.close();
      }
      return result;
    },

    async finishRollback(input: { rollbackId: string; status: 'completed' | 'failed'; result?: unknown; restored?: number; conflicts?: number; rows?: number; error?: string }): Promise<void> {
      await deps.pool.query(
        `UPDATE sync_runs SET status = $2, finished_at = now(), rows_read = $3, rows_written = $4, conflicts = $5, error = $6,
           details = COALESCE(details, '{}'::jsonb) || jsonb_build_object('result', $7::jsonb) WHERE id = $1`,
        [input.rollbackId, input.status, input.rows ?? 0, input.restored ?? 0, input.conflicts ?? 0, input.error ?? null, JSON.stringify(input.result ?? null)],
      );
    },
  };
}

/** One page of a rollback: a PostgreSQL transaction (rolled back in a dry run) and lazy legacy connections. */
class PageRun {
  private client: pg.PoolClient | null = null;
  private legacyRw: Database.Database | null = null;
  private legacyRo: Database.Database | null = null;
  private queueTable: boolean | null = null;
  /** Legacy ids whose new row was restored, per legacy table: to be re-read by the next cycle. */
  private reread = new Map<string, Set<number>>();
  /** Orders whose write-back was undone: to be written back again. */
  private requeue = new Set<number>();

  constructor(
    private readonly deps: ActivityDeps,
    private readonly rollbackId: string,
    private readonly selection: RollbackSelection,
    private readonly dryRun: boolean,
    private readonly force: boolean,
    private readonly result: RollbackPageResult,
  ) {}

  close(): void {
    this.legacyRw?.close();
    this.legacyRo?.close();
  }

  private legacy(writable: boolean): Database.Database {
    try {
      if (writable) return (this.legacyRw ??= openLegacy(this.deps.env.LEGACY_DB_PATH, { readonly: false }));
      return this.legacyRw ?? (this.legacyRo ??= openLegacy(this.deps.env.LEGACY_DB_PATH));
    } catch (err) {
      return nonRetryable(err);
    }
  }

  private hasQueue(db: Database.Database): boolean {
    this.queueTable ??= db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_queue'`).get() !== undefined;
    return this.queueTable;
  }

  private marker(g: Group): string {
    return `${this.rollbackId}#${g.side === 'new' ? 'N' : 'L'}${g.lastId}`;
  }

  private count(g: Group, o: Outcome): void {
    if (o.kind === 'restored') {
      this.result.restored++;
      this.result.restoredBySide[g.side]++;
    } else if (o.kind === 'already') {
      this.result.alreadyRestored++;
    } else {
      this.result.conflicts++;
      if (this.result.conflictSample.length < CONFLICT_SAMPLE) {
        this.result.conflictSample.push({ side: g.side, table: g.table, rowId: g.rowId, legacyId: g.legacyId, reason: o.reason });
      }
    }
  }

  async run(groups: Group[]): Promise<void> {
    const client = (this.client = await this.deps.pool.connect());
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('luckygas.origin', 'sync', true)`);
      // Rows this rollback already restored (a page retried after its commit): counted, not redone.
      const done = await client.query<{ batch_key: string }>(`SELECT DISTINCT batch_key FROM sync_journal WHERE run_id = $1 AND batch_key = ANY($2::text[])`, [
        this.rollbackId,
        groups.map((g) => this.marker(g)),
      ]);
      const markers = new Set(done.rows.map((r) => r.batch_key));
      for (const g of groups) {
        const o = markers.has(this.marker(g)) ? await this.alreadyDone(g) : g.side === 'new' ? await this.restoreNew(client, g) : await this.restoreLegacy(client, g);
        this.count(g, o);
        Context.current().heartbeat();
      }
      if (!this.dryRun) {
        await this.resetWatermarks(client);
        await this.requeueOrders(client);
        await client.query('COMMIT');
      } else {
        // A dry run did every restore to find the conflicts (dependants included) and undoes them all.
        await client.query('ROLLBACK');
      }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** A row restored by an earlier attempt of this page: its re-read bookkeeping is redone (idempotent). */
  private async alreadyDone(g: Group): Promise<Outcome> {
    if (g.side === 'new') {
      const m = mappingByNewTable.get(g.table);
      if (m && g.legacyId !== null) this.addReread(m.legacyTable, g.legacyId);
    }
    return { kind: 'restored' };
  }

  private addReread(legacyTable: string, legacyId: number): void {
    let s = this.reread.get(legacyTable);
    if (!s) this.reread.set(legacyTable, (s = new Set()));
    s.add(legacyId);
  }

  // ─────────────────────────────── PostgreSQL rows ───────────────────────────────

  private async restoreNew(client: pg.PoolClient, g: Group): Promise<Outcome> {
    const m = mappingByNewTable.get(g.table);
    if (!m) return { kind: 'conflict', reason: `no table mapping for '${g.table}'` };
    const T = m.newTable;
    const cols = managedColumns(m);
    const setCols = cols.filter((c) => c !== 'id');
    const row = (a: string, list: string[]) => `ROW(${list.map((c) => `${a}.${c}`).join(', ')})`;
    const same = (p: string) =>
      `CASE WHEN ${p}::jsonb IS NULL THEN NULL ELSE ${row('t', cols)} IS NOT DISTINCT FROM (SELECT ${row('r', cols)} FROM jsonb_populate_record(NULL::${T}, ${p}::jsonb) r) END`;
    const json = (v: unknown) => (v === null ? null : JSON.stringify(v));

    await client.query('SAVEPOINT rollback_row');
    try {
      const cur = await client.query<{ row: Record<string, unknown>; eq_expected: boolean | null; eq_target: boolean | null }>(
        `SELECT to_jsonb(t) AS row, ${same('$2')} AS eq_expected, ${same('$3')} AS eq_target FROM ${T} t WHERE t.id = $1 FOR UPDATE`,
        [g.rowId, json(g.expected), json(g.target)],
      );
      const current = cur.rows[0] ?? null;
      const isTarget = g.target === null ? current === null : current?.eq_target === true;
      const isExpected = g.expected === null ? current === null : current?.eq_expected === true;
      if (isTarget) return { kind: 'already' };
      if (!isExpected && !this.force) {
        return {
          kind: 'conflict',
          reason: current === null ? 'row deleted after the run' : g.expected === null ? 'row created again after the run' : 'row changed after the run',
        };
      }
      let restored: Record<string, unknown> | null = null;
      let operation: 'insert' | 'update' | 'delete';
      try {
        if (g.target === null) {
          await client.query(`DELETE FROM ${T} WHERE id = $1`, [g.rowId]);
          operation = 'delete';
        } else if (current) {
          const u = await client.query<{ row: Record<string, unknown> }>(
            `UPDATE ${T} t SET (${setCols.join(', ')}) = (SELECT ${setCols.map((c) => `r.${c}`).join(', ')} FROM jsonb_populate_record(NULL::${T}, $2::jsonb) r)
             WHERE t.id = $1 RETURNING to_jsonb(t) AS row`,
            [g.rowId, json(g.target)],
          );
          restored = u.rows[0].row;
          operation = 'update';
        } else {
          const i = await client.query<{ row: Record<string, unknown> }>(
            `INSERT INTO ${T} AS t SELECT * FROM jsonb_populate_record(NULL::${T}, $1::jsonb) RETURNING to_jsonb(t) AS row`,
            [json(g.target)],
          );
          restored = i.rows[0].row;
          operation = 'insert';
        }
      } catch (err) {
        const e = err as Error & { code?: string; detail?: string };
        if (!e.code) throw err;
        await client.query('ROLLBACK TO SAVEPOINT rollback_row');
        if (e.code === '23503') return { kind: 'conflict', reason: `has dependants: ${e.detail ?? e.message}` };
        return { kind: 'conflict', reason: `cannot restore: ${e.message}${e.detail ? ` (${e.detail})` : ''}` };
      }
      const legacyId = ((g.target?.legacy_id ?? current?.row.legacy_id ?? g.expected?.legacy_id ?? g.legacyId) as number | null) ?? null;
      // (A dry run journals nothing: even a rolled-back insert would advance the journal's id sequence.)
      if (!this.dryRun) await client.query(
        `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after) VALUES ($1, $2, 'new', $3, $4, $5, $6, $7, $8)`,
        [this.rollbackId, this.marker(g), T, g.rowId, legacyId, operation, json(current?.row ?? null), json(restored)],
      );
      if (legacyId !== null) this.addReread(m.legacyTable, Number(legacyId));
      return { kind: 'restored' };
    } finally {
      await client.query('RELEASE SAVEPOINT rollback_row').catch(() => {});
    }
  }

  // ─────────────────────────────── legacy rows ───────────────────────────────

  private async restoreLegacy(client: pg.PoolClient, g: Group): Promise<Outcome> {
    const m = mappingByLegacyTable(g.table);
    if (!m) return { kind: 'conflict', reason: `no table mapping for legacy table '${g.table}'` };
    const keys = ['id', ...m.legacyColumns.map((c) => c.name)];
    const target = g.target as RawImage | null;
    const expected = g.expected as RawImage | null;

    const classify = (current: RawImage | null): Outcome | null => {
      if (imagesEqual(current, target, keys)) return { kind: 'already' };
      if (!imagesEqual(current, expected, keys) && !this.force) {
        return {
          kind: 'conflict',
          reason:
            current === null
              ? 'row deleted after the run'
              : expected === null
                ? 'row created again after the run'
                : `row changed after the run (${imageDiff(current, expected, keys).join(', ')})`,
        };
      }
      return null;
    };

    if (this.dryRun) {
      const db = this.legacy(false);
      const cur = readByIds(db, m, [g.rowId])[0];
      return classify(cur ? rawImage(cur) : null) ?? { kind: 'restored' };
    }

    const db = this.legacy(true);
    db.exec(`CREATE TABLE IF NOT EXISTS ${LOG_TABLE} (
      rollback_id TEXT NOT NULL, journal_id INTEGER NOT NULL, result TEXT NOT NULL, restored_at TEXT NOT NULL DEFAULT (datetime('now')),
      PRIMARY KEY (rollback_id, journal_id))`);
    const logged = db.prepare(`SELECT result FROM ${LOG_TABLE} WHERE rollback_id = ? AND journal_id = ?`).get(this.rollbackId, g.lastId) as { result: string } | undefined;
    let rec: LegacyRestore;
    if (logged) {
      rec = JSON.parse(logged.result) as LegacyRestore;
    } else {
      const outcome = db
        .transaction((): Outcome | LegacyRestore => {
          const cur = readByIds(db, m, [g.rowId])[0];
          const before = cur ? rawImage(cur) : null;
          const decided = classify(before);
          if (decided) return decided;
          const queueMark = this.hasQueue(db) ? ((db.prepare(`SELECT COALESCE(max(id), 0) AS n FROM sync_queue`).get() as { n: number }).n) : null;
          let operation: LegacyRestore['operation'];
          if (target === null) {
            db.prepare(`DELETE FROM ${m.legacyTable} WHERE id = ?`).run(g.rowId);
            operation = 'delete';
          } else {
            const cols = m.legacyColumns;
            const values = cols.map((c) => bindValue(c.kind, target[c.name] ?? null));
            const ph = cols.map((c) => (c.kind === 'text' ? 'CAST(? AS TEXT)' : '?'));
            if (cur) {
              db.prepare(`UPDATE ${m.legacyTable} SET ${cols.map((c, i) => `${c.name} = ${ph[i]}`).join(', ')} WHERE id = ?`).run(...values, g.rowId);
              operation = 'update';
            } else {
              db.prepare(`INSERT INTO ${m.legacyTable} (id, ${cols.map((c) => c.name).join(', ')}) VALUES (?, ${ph.join(', ')})`).run(g.rowId, ...values);
              operation = 'insert';
            }
          }
          // The file's own change capture must not read the restore back as a legacy edit.
          if (queueMark !== null) db.prepare(`DELETE FROM sync_queue WHERE id > ? AND table_name = ? AND record_id = ?`).run(queueMark, m.legacyTable, g.rowId);
          const now = readByIds(db, m, [g.rowId])[0];
          const r: LegacyRestore = { operation, before, after: now ? rawImage(now) : null, hash: now ? contentHash(now) : null };
          db.prepare(`INSERT INTO ${LOG_TABLE} (rollback_id, journal_id, result) VALUES (?, ?, ?)`).run(this.rollbackId, g.lastId, JSON.stringify(r));
          return r;
        })
        .immediate();
      if ('kind' in outcome) return outcome;
      rec = outcome;
    }

    // PostgreSQL's record of it, in the page transaction (redone from the file's log after a crash).
    await client.query(
      `INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after) VALUES ($1, $2, 'legacy', $3, $4::bigint, $4::int, $5, $6, $7)`,
      [this.rollbackId, this.marker(g), m.legacyTable, g.rowId, rec.operation, rec.before && JSON.stringify(rec.before), rec.after && JSON.stringify(rec.after)],
    );
    const writtenBack = this.deps.config.tables.find((t) => t.legacyTable === m.legacyTable)?.directions.includes('new-to-legacy') ?? false;
    if (writtenBack && m.legacyTable === 'deliveries') await this.afterDeliveryRestore(client, g, rec);
    return { kind: 'restored' };
  }

  /**
   * The write-back of an order was undone: the order is to be written back again (outbox), and
   * legacy → new must not read the restored delivery as a legacy edit of the order (its hash
   * is recorded as synced). A delivery the write-back had inserted is gone again, so its order
   * loses the legacy_id it had been given (journaled, so this too is undoable).
   */
  private async afterDeliveryRestore(client: pg.PoolClient, g: Group, rec: LegacyRestore): Promise<void> {
    const orders = await client.query<{ id: number }>(`SELECT id FROM orders WHERE legacy_id = $1`, [g.rowId]);
    for (const o of orders.rows) this.requeue.add(o.id);
    if (rec.after === null) {
      await client.query(
        `WITH b AS (SELECT o.* FROM orders o WHERE o.legacy_id = $1 FOR UPDATE),
         u AS (UPDATE orders o SET legacy_id = NULL FROM b WHERE o.id = b.id RETURNING o.*)
         INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after)
         SELECT $2, $3, 'new', 'orders', u.id, b.legacy_id, 'update', to_jsonb(b), to_jsonb(u) FROM u JOIN b ON b.id = u.id`,
        [g.rowId, this.rollbackId, this.marker(g)],
      );
      await client.query(`DELETE FROM sync_row_state WHERE table_name = 'deliveries' AND legacy_id = $1`, [g.rowId]);
    } else {
      await client.query(
        `INSERT INTO sync_row_state (table_name, legacy_id, content_hash, new_updated_at, synced_at)
         VALUES ('deliveries', $1, $2, (SELECT max(updated_at) FROM orders WHERE legacy_id = $1), now())
         ON CONFLICT (table_name, legacy_id) DO UPDATE SET content_hash = EXCLUDED.content_hash, new_updated_at = EXCLUDED.new_updated_at, synced_at = now()`,
        [g.rowId, rec.hash],
      );
    }
  }

  // ─────────────────────────────── watermarks ───────────────────────────────

  /**
   * Rows restored in PostgreSQL are re-read by the next cycle: their content hashes are
   * forgotten (the hash-skip would skip them) and the watermark moves back, never forward, to
   * just before the earliest of them in (updated_at, id) order (timestamp mode), or they are
   * queued in the file's sync_queue (trigger mode). Deliveries whose write-back was undone in
   * this rollback are left out: for them the new side holds the change (see afterDeliveryRestore).
   */
  private async resetWatermarks(client: pg.PoolClient): Promise<void> {
    for (const [legacyTable, idSet] of this.reread) {
      const m = mappingByLegacyTable(legacyTable);
      const cfg = this.deps.config.tables.find((t) => t.legacyTable === legacyTable);
      if (!m || !cfg) continue;
      const excluded = await client.query<{ row_id: string }>(
        `SELECT DISTINCT j.row_id FROM sync_journal j WHERE ${SELECTION} AND j.side = 'legacy' AND j.table_name = $5 AND j.row_id = ANY($6::bigint[])`,
        [...selectionParams(this.selection), legacyTable, [...idSet]],
      );
      const skip = new Set(excluded.rows.map((r) => Number(r.row_id)));
      const ids = [...idSet].filter((id) => !skip.has(id));
      if (ids.length === 0) continue;
      await client.query(`DELETE FROM sync_row_state WHERE table_name = $1 AND legacy_id = ANY($2::int[])`, [legacyTable, ids]);
      if (cfg.changeDetection === 'timestamp') {
        const first = this.legacy(false)
          .prepare(`SELECT CAST(updated_at AS BLOB) AS u, id FROM ${legacyTable} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY updated_at, id LIMIT 1`)
          .get(JSON.stringify(ids)) as { u: Buffer | null; id: number } | undefined;
        if (!first) continue; // gone from legacy: the consistency check reports them (missing in legacy)
        const to = { ts: first.u ? first.u.toString('latin1') : '', id: first.id - 1 };
        const res = await client.query<{ cursor_ts: string | null; cursor_id: string }>(
          `WITH old AS (SELECT table_name, cursor_ts, cursor_id FROM sync_state WHERE table_name = $1 AND direction = $2 AND mode = 'timestamp' FOR UPDATE)
           UPDATE sync_state s SET cursor_ts = $3, cursor_id = $4, updated_at = now() FROM old
           WHERE s.table_name = old.table_name AND s.direction = $2 AND (COALESCE(old.cursor_ts, ''), old.cursor_id) > ($3::text, $4::bigint)
           RETURNING old.cursor_ts, old.cursor_id`,
          [legacyTable, DIRECTION, to.ts, to.id],
        );
        if (res.rows[0]) this.result.watermarks.push({ table: legacyTable, mode: 'timestamp', from: { ts: res.rows[0].cursor_ts, id: Number(res.rows[0].cursor_id) }, to });
      } else {
        const db = this.legacy(true);
        if (!this.hasQueue(db)) continue;
        const ins = db.prepare(`INSERT INTO sync_queue (table_name, record_id, operation) VALUES (?, ?, 'UPDATE')`);
        db.transaction(() => ids.forEach((id) => ins.run(legacyTable, id))).immediate();
        this.result.watermarks.push({ table: legacyTable, mode: 'trigger', queued: ids.length });
      }
    }
  }

  private async requeueOrders(client: pg.PoolClient): Promise<void> {
    if (this.requeue.size === 0) return;
    const res = await client.query(
      `INSERT INTO sync_order_outbox (order_id, operation)
       SELECT o.id, 'UPDATE' FROM orders o WHERE o.id = ANY($1::int[]) AND o.deleted_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM sync_order_outbox x WHERE x.order_id = o.id AND x.processed_at IS NULL)`,
      [[...this.requeue]],
    );
    this.result.requeuedOrders += res.rowCount ?? 0;
  }
}

/** A raw-image value as bound to SQLite: text as its bytes (bound through CAST(? AS TEXT)). */
function bindValue(kind: 'text' | 'integer', v: string | number | null): Buffer | number | string | null {
  if (v === null) return null;
  if (kind === 'text') return typeof v === 'string' && /^([0-9a-f]{2})*$/i.test(v) ? Buffer.from(v, 'hex') : Buffer.from(String(v), 'utf8');
  return typeof v === 'number' ? v : Number.isFinite(Number(v)) ? Number(v) : v;
}
