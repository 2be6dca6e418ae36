import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { CancelledFailure, Context } from '@temporalio/activity';
import type Database from 'better-sqlite3';
import { writeDeliveries, type LegacyWriteResult } from '../src/apply/legacySink';
import { restoreLegacyRows, type LegacyRestore, type LegacyRestorePlan } from '../src/apply/legacyRestore';
import { countRows, idPageEnds, pageRows, newestCursor, queuePosition, readIdChunk, readIdRange, readPageByIds, readQueuePage, readTimestampPage, type RawPage } from '../src/capture/legacyReader';
import { installedTriggers, installTriggers, removeTriggers } from '../src/capture/legacyTriggers';
import { StreamClosedError } from '../src/claims';
import { tableConfig } from '../src/config/tables';
import type { LegacyWrite } from '../src/convert/toLegacy';
import { openLegacy } from '../src/db/legacy';
import type { TableEdges } from '../src/plan';
import type { Cursor, FetchResult } from '../src/shared';
import type { LegacyDeps } from './deps';

/**
 * The activities of the legacy agent (task queue luckygas-legacy): the only ones that open
 * the legacy file. Reads go into Redis claims as raw bytes, writes come from claims; only
 * keys, counts and cursors travel through Temporal.
 */

export interface RawBatch {
  page: RawPage;
  /** Legacy ids whose row is gone (trigger mode, rows read by id). */
  deleted: number[];
}

export interface Probe {
  table: string;
  /** The first page's batch key; null when the run reads no pages first (a load). */
  batchKey: string | null;
  cursor: Cursor;
  batchSize: number;
  /** The run needs the table's edges (a load, a catch-up). */
  edges: boolean;
}

export const rawKey = (batchKey: string) => `${batchKey}:raw`;
export const writesKey = (batchKey: string) => `${batchKey}:writes`;
export const writtenKey = (batchKey: string) => `${batchKey}:written`;
export const restoresKey = (batchKey: string) => `${batchKey}:restores`;
export const restoredKey = (batchKey: string) => `${batchKey}:restored`;

export function createLegacyActivities(deps: LegacyDeps) {
  const mappingOf = (table: string) => tableConfig(deps.config, table).mapping;

  /** A page after the cursor: the trigger queue's (ts null) or the table's in (updated_at, id) order. */
  const page = (db: Database.Database, table: string, cursor: Cursor, batchSize: number) =>
    cursor.ts === null ? readQueuePage(db, mappingOf(table), cursor, batchSize) : readTimestampPage(db, mappingOf(table), cursor, batchSize);

  const edges = (db: Database.Database, table: string): TableEdges => ({ rows: countRows(db, table), newest: newestCursor(db, table), queuePosition: queuePosition(db) });

  /** Runs `body` on a writable connection, closed after it. */
  const writable = <T>(body: (db: Database.Database) => T): T => {
    const db = openLegacy(deps.env.LEGACY_DB_PATH, { readonly: false });
    try {
      return body(db);
    } finally {
      db.close();
    }
  };

  return {
    /** The cycle's look at each table: its first page (kept for the run) and, when asked, its edges; one read transaction. */
    async probeTables(input: { probes: Probe[] }): Promise<{ table: string; first: FetchResult | null; edges: TableEdges | null }[]> {
      const out: { table: string; first: FetchResult | null; edges: TableEdges | null; batch?: RawBatch }[] = deps.legacy.read((db) =>
        db.transaction(() =>
          input.probes.map((p) => {
            const e = p.edges ? edges(db, p.table) : null;
            if (!p.batchKey) return { table: p.table, first: null, edges: e };
            const pg = page(db, p.table, p.cursor, p.batchSize);
            return { table: p.table, first: { count: pg.rows.length + pg.deleted.length, next: pg.next, done: pg.done }, edges: e, batch: { page: pg.page, deleted: pg.deleted } };
          }),
        )(),
      );
      await Promise.all(input.probes.map((p, i) => (p.batchKey && out[i].batch ? deps.claims.put(rawKey(p.batchKey), out[i].batch) : undefined)));
      return out.map(({ table, first, edges: e }) => ({ table, first, edges: e }));
    },

    async tableEdges(input: { table: string }): Promise<TableEdges> {
      return deps.legacy.read((db) => db.transaction(() => edges(db, mappingOf(input.table).legacyTable))());
    },

    /** The next page after the cursor, into a claim. */
    async capturePage(input: { table: string; batchKey: string; cursor: Cursor; batchSize: number }): Promise<FetchResult> {
      const pg = deps.legacy.read((db) => page(db, input.table, input.cursor, input.batchSize));
      await deps.claims.put(rawKey(input.batchKey), { page: pg.page, deleted: pg.deleted } satisfies RawBatch);
      Context.current().heartbeat();
      return { count: pg.rows.length + pg.deleted.length, next: pg.next, done: pg.done };
    },

    /** Rows by id (a row queue), into a claim; ids not found are reported as deleted. */
    async captureRows(input: { table: string; batchKey: string; ids: number[] }): Promise<{ count: number }> {
      const mapping = mappingOf(input.table);
      const page = deps.legacy.read((db) => readPageByIds(db, mapping, input.ids));
      const found = new Set(pageRows(mapping, page).map((r) => r.id));
      await deps.claims.put(rawKey(input.batchKey), { page, deleted: input.ids.filter((id) => !found.has(id)) } satisfies RawBatch);
      return { count: input.ids.length };
    },

    /** Where the next load pages end (see idPageEnds). */
    async pageEnds(input: { table: string; afterId: number; pageSize: number; pages: number }): Promise<(number | null)[]> {
      return deps.legacy.read((db) => idPageEnds(db, mappingOf(input.table).legacyTable, input.afterId, input.pageSize, input.pages));
    },

    /** A load page, ids in (afterId, toId], into a claim; its last id tells a page that ran to the table's end where it stopped. */
    async captureIdRange(input: { table: string; batchKey: string; afterId: number; toId: number | null; pageSize: number }): Promise<{ count: number; lastId: number }> {
      const page = deps.legacy.read((db) => readIdRange(db, mappingOf(input.table), input.afterId, input.toId, input.pageSize));
      await deps.claims.put(rawKey(input.batchKey), { page, deleted: [] } satisfies RawBatch);
      Context.current().heartbeat();
      return { count: page.count, lastId: page.count > 0 ? page.lastId : (input.toId ?? input.afterId) };
    },

    /**
     * A whole table in id order, page after page, into the stream a core worker loads it from
     * (loadTable), at most `window` pages ahead of it. A retry resumes after the last page its
     * heartbeat recorded (the reader skips a page written twice).
     */
    async captureTable(input: { table: string; stream: string; pageSize: number; window: number }): Promise<{ pages: number; rows: number }> {
      const ctx = Context.current();
      const mapping = mappingOf(input.table);
      const at = (ctx.info.heartbeatDetails as { seq: number; afterId: number; rows: number } | undefined) ?? { seq: 0, afterId: 0, rows: 0 };
      const beat = () => {
        ctx.heartbeat({ ...at });
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('the load was cancelled');
      };
      const stream = deps.claims.stream<RawPage>(input.stream);
      for (;;) {
        const page = deps.legacy.read((db) => readIdRange(db, mapping, at.afterId, null, input.pageSize));
        if (page.count === 0) break;
        try {
          await stream.push(at.seq, page, input.window, beat);
        } catch (err) {
          // The load closed the stream: it is done with it, committed or failed; its own outcome
          // is the run's (a failed load starts again with a stream of its own), not this one.
          if (err instanceof StreamClosedError) return { pages: at.seq, rows: at.rows };
          throw err;
        }
        at.seq++;
        at.afterId = page.lastId;
        at.rows += page.count;
        beat();
        if (page.count < input.pageSize) break;
      }
      await stream.end(at.seq);
      return { pages: at.seq, rows: at.rows };
    },

    /** The legacy side of a consistency chunk: the next ids and their rows, one snapshot, into a claim. */
    async captureCheckChunk(input: { table: string; batchKey: string; afterId: number | null; chunkSize: number }): Promise<{ count: number; lastId: number | null; done: boolean }> {
      const mapping = mappingOf(input.table);
      const page = deps.legacy.read((db) =>
        db.transaction(() => readPageByIds(db, mapping, readIdChunk(db, mapping.legacyTable, input.afterId ?? Number.MIN_SAFE_INTEGER, input.chunkSize)))(),
      );
      await deps.claims.put(rawKey(input.batchKey), { page, deleted: [] } satisfies RawBatch);
      Context.current().heartbeat();
      return { count: page.count, lastId: page.count > 0 ? page.lastId : input.afterId, done: page.count < input.chunkSize };
    },

    async countLegacy(input: { table: string }): Promise<number> {
      return deps.legacy.read((db) => countRows(db, mappingOf(input.table).legacyTable));
    },

    /** The write-back's legacy side: the planned writes from their claim, written in one short transaction; the outcomes into a claim. */
    async writeLegacy(input: { batchKey: string }): Promise<{ written: number; skipped: number }> {
      const writes = await deps.claims.get<LegacyWrite[]>(writesKey(input.batchKey));
      const encodings = tableConfig(deps.config, 'deliveries').textColumns;
      const results: LegacyWriteResult[] = writes.length === 0 ? [] : writable((db) => writeDeliveries(db, input.batchKey, writes, encodings, deps.eudc));
      await deps.claims.put(writtenKey(input.batchKey), results);
      Context.current().heartbeat();
      return { written: results.filter((r) => r.operation === 'insert' || r.operation === 'update').length, skipped: results.filter((r) => r.operation === 'skipped').length };
    },

    /** A rollback page's legacy side: rows restored to their before-images where they still hold what the undone runs left. */
    async restoreLegacy(input: { batchKey: string; rollbackId: string; dryRun: boolean; force: boolean }): Promise<{ restored: number }> {
      const plan = await deps.claims.get<LegacyRestorePlan>(restoresKey(input.batchKey));
      const results: LegacyRestore[] = input.dryRun
        ? deps.legacy.read((db) => restoreLegacyRows(db, input.rollbackId, plan, { dryRun: true, force: input.force }))
        : writable((db) => restoreLegacyRows(db, input.rollbackId, plan, { dryRun: false, force: input.force }));
      await deps.claims.put(restoredKey(input.batchKey), results);
      return { restored: results.filter((r) => r.outcome === 'restored').length };
    },

    /** The legacy file as this agent sees it, for `doctor`: opening it checks it is an SQLite file with the contract's tables. */
    async describeLegacy(): Promise<{ file: string; journalMode: string; bytes: number; worker: string }> {
      const journalMode = deps.legacy.read((db) => String(db.pragma('journal_mode', { simple: true })));
      return { file: deps.env.LEGACY_DB_PATH, journalMode, bytes: statSync(deps.env.LEGACY_DB_PATH).size, worker: `${process.pid}@${hostname()}` };
    },

    async installTriggers(input: { tables: string[] }): Promise<string[]> {
      const tables = input.tables.map((t) => mappingOf(t).legacyTable);
      return writable((db) => {
        installTriggers(db, tables);
        return installedTriggers(db);
      });
    },

    async removeTriggers(input: { tables: string[]; dropQueue: boolean }): Promise<string[]> {
      const tables = input.tables.map((t) => mappingOf(t).legacyTable);
      return writable((db) => {
        removeTriggers(db, tables, { dropQueue: input.dropQueue });
        return installedTriggers(db);
      });
    },
  };
}

export type LegacyActivities = ReturnType<typeof createLegacyActivities>;
