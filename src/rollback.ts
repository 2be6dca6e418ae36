import type pg from 'pg';
import type { LegacyRestore, LegacyRestoreItem } from './apply/legacyRestore';
import { asSync } from './apply/postgresSink';
import type { RawImage, RawRow } from './capture/rawRow';
import type { SyncConfig } from './config/tables';
import { TABLE_MAPPINGS, type NewValues, type TableMapping } from './convert/tables';
import { convertRow } from './convert/toNew';
import { inTransaction } from './db/postgres';
import type { EudcMap } from './encoding/eudc';
import { ROLLBACK_CONFLICT_SAMPLE, type RollbackConflict, type RollbackPageResult, type RollbackPosition, type RollbackRequest, type RollbackSelection } from './shared';
import { claimBatch, finishBatch } from './state/batches';
import { getConflict, reopenConflict } from './state/conflicts';
import { countSelection, journal, lastJournalId, selectionPage, legacySideRows, type JournalGroup } from './state/journal';
import { queueOrders } from './state/outbox';
import { enqueueRows } from './state/rowQueue';
import { forgetRowStates, markStale, recordWrittenBack, reopenReview } from './state/rowState';
import { beginRun, runExists, runTree } from './state/runs';

/**
 * Rollback, the core's side: the journal's before-images restored, newest change first.
 *
 * Entries are grouped per row (side, table, row id) over the whole selection: a row changed
 * several times by the undone runs is compared once, with the after-image of its latest entry
 * (what the runs left), and restored to the before-image of its earliest entry (what was
 * there before them). That makes a rollback repeatable: a second one finds every row equal to
 * its target ("already restored") and changes nothing. A row equal to neither was changed
 * after the runs: a conflict, reported and skipped unless forced.
 *
 * PostgreSQL rows are restored here, one transaction per page, a savepoint per row, as the
 * sync (the outbox and the merge base ignore the restores). Legacy rows are restored by the
 * legacy agent (apply/legacyRestore.ts), then recorded here. The rollback's own changes are
 * journaled under its own run id: a rollback is undoable.
 *
 * Afterwards: legacy rows whose new row was restored are read again by the next cycle (the
 * repair queue); orders whose write-back was undone are queued to be written back again;
 * conflicts whose resolution was undone are open for review again.
 */

const mappingByNewTable = new Map<string, TableMapping>(Object.values(TABLE_MAPPINGS).map((m) => [m.newTable, m]));

/** The new table's columns a restore writes and compares: the ones the sync manages. */
function managedColumns(m: TableMapping): string[] {
  return ['id', 'legacy_id', ...Object.keys(m.newColumns), ...m.parents.map((p) => p.newColumn), 'deleted_at'];
}

export class RollbackRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInput';
  }
}

/** Resolves the request: its runs, the selection it stands for (fixed now), and records the rollback as a run. */
export async function beginRollback(pool: pg.Pool, config: SyncConfig, rollbackId: string, r: RollbackRequest): Promise<{ selection: RollbackSelection; entries: number; rows: number }> {
  if ((r.runId === undefined) === (r.since === undefined)) throw new RollbackRequestError('give exactly one of runId (undo one sync run) or since (undo everything since an ISO time)');
  let since: string | null = null;
  if (r.since !== undefined) {
    const t = Date.parse(r.since);
    if (Number.isNaN(t)) throw new RollbackRequestError(`since '${r.since}' is not an ISO-8601 time`);
    since = new Date(t).toISOString();
  }
  let tables: string[] | null = null;
  if (r.tables && r.tables.length > 0) {
    const names = new Set<string>();
    for (const t of r.tables) {
      const c = config.tables.find((x) => x.legacyTable === t || x.newTable === t);
      if (!c) throw new RollbackRequestError(`table '${t}' is not in the table configuration (configured: ${config.tables.map((x) => `${x.legacyTable}/${x.newTable}`).join(', ')})`);
      names.add(c.legacyTable).add(c.newTable);
    }
    tables = [...names];
  }
  let runIds: string[] | null = null;
  if (r.runId !== undefined) {
    if (!(await runExists(pool, r.runId))) throw new RollbackRequestError(`no sync run '${r.runId}' (see sync_runs, or the workflow ids in the Web UI)`);
    runIds = await runTree(pool, r.runId);
  }
  const selection: RollbackSelection = { runIds, since, tables, maxJournalId: await lastJournalId(pool) };
  const counts = await countSelection(pool, selection);
  if (!r.dryRun) await beginRun(pool, { id: rollbackId, kind: 'rollback', details: { request: r, selection } });
  return { selection, ...counts };
}

/** The row's legacy id, when the journal did not name it (a load's range): a restored row's legacy row is read again, a conflict names it. */
type Outcome = { kind: 'restored'; legacyId?: number | null } | { kind: 'already' } | { kind: 'conflict'; reason: string; legacyId?: number | null };

interface PageInput {
  rollbackId: string;
  selection: RollbackSelection;
  before: RollbackPosition | null;
  limit: number;
  dryRun: boolean;
  force: boolean;
}

/** The batch key of a group's restore: its latest entry, and its row when that entry is a load's (which covers many). */
const marker = (rollbackId: string, side: 'new' | 'legacy', g: { lastId: number; rowId: number; loadXid?: string | null }) =>
  `${rollbackId}#${side === 'new' ? 'N' : 'L'}${g.lastId}${g.loadXid ? `.${g.rowId}` : ''}`;

function emptyPage(before: RollbackPosition | null, done: boolean): RollbackPageResult {
  return {
    rows: 0,
    restored: 0,
    alreadyRestored: 0,
    conflicts: 0,
    conflictSample: [],
    restoredBySide: { new: 0, legacy: 0 },
    requeuedOrders: 0,
    reread: {},
    reopened: 0,
    legacyBatch: null,
    before,
    done,
  };
}

function count(result: RollbackPageResult, side: 'new' | 'legacy', g: { table: string; rowId: number; legacyId?: number | null }, o: Outcome): void {
  if (o.kind === 'restored') {
    result.restored++;
    result.restoredBySide[side]++;
  } else if (o.kind === 'already') {
    result.alreadyRestored++;
  } else {
    result.conflicts++;
    const c: RollbackConflict = { side, table: g.table, rowId: g.rowId, legacyId: g.legacyId ?? o.legacyId ?? null, reason: o.reason };
    if (result.conflictSample.length < ROLLBACK_CONFLICT_SAMPLE) result.conflictSample.push(c);
  }
}

/**
 * One page of grouped rows, newest change first: PostgreSQL rows restored in one transaction
 * (rolled back in a dry run), legacy rows planned for the legacy agent (`legacy`).
 */
export async function rollbackPage(pool: pg.Pool, input: PageInput): Promise<{ result: RollbackPageResult; legacy: LegacyRestoreItem[] }> {
  const groups = await selectionPage(pool, input.selection, input.before, input.limit);
  const last = groups.at(-1);
  const result = emptyPage(last ? { id: last.lastId, rowId: last.rowId } : input.before, groups.length < input.limit);
  result.rows = groups.length;
  const legacy = groups
    .filter((g) => g.side === 'legacy')
    .map((g) => ({ lastId: g.lastId, table: g.table, rowId: g.rowId, target: g.target as RawImage | null, expected: g.expected as RawImage | null }));
  const newGroups = groups.filter((g) => g.side === 'new');
  if (newGroups.length === 0) return { result, legacy };

  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await asSync(client);
    // Rows this rollback already restored (a page retried after its commit): counted, their bookkeeping redone.
    const done = await client.query<{ batch_key: string; legacy_id: number | null }>(`SELECT batch_key, legacy_id FROM sync_journal WHERE run_id = $1 AND batch_key = ANY($2::text[])`, [
      input.rollbackId,
      newGroups.map((g) => marker(input.rollbackId, 'new', g)),
    ]);
    const markers = new Map(done.rows.map((r) => [r.batch_key, r.legacy_id]));
    const reread = new Map<string, Set<number>>();
    for (const g of newGroups) {
      const key = marker(input.rollbackId, 'new', g);
      const o: Outcome = markers.has(key) ? { kind: 'restored', legacyId: markers.get(key) } : await restoreNew(client, input, g);
      count(result, 'new', g, o);
      const m = mappingByNewTable.get(g.table);
      const legacyId = g.legacyId ?? (o.kind === 'restored' ? o.legacyId : null) ?? null;
      if (o.kind === 'restored' && m && legacyId !== null) {
        if (!reread.has(m.legacyTable)) reread.set(m.legacyTable, new Set());
        reread.get(m.legacyTable)!.add(legacyId);
      }
    }
    if (input.dryRun) {
      // A dry run did every restore to find the conflicts (dependants included) and undoes them all.
      await client.query('ROLLBACK');
      return { result, legacy };
    }
    result.reopened = await reopenResolutions(client, input.selection);
    for (const [table, ids] of reread) {
      // Deliveries whose legacy side this rollback restores too: the order holds the change (see recordLegacyRestores).
      const skip = await legacySideRows(client, input.selection, table, [...ids]);
      const rows = [...ids].filter((id) => !skip.has(id));
      await markStale(client, table, rows);
      await enqueueRows(client, table, 'repair', rows.map((rowId) => ({ rowId, reason: `restored by rollback ${input.rollbackId}: read legacy again` })), input.rollbackId);
      result.reread[table] = rows.length;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return { result, legacy };
}

async function restoreNew(client: pg.PoolClient, input: PageInput, g: JournalGroup): Promise<Outcome> {
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
    const cur = await client.query<{ row: Record<string, unknown>; xmin: string; eq_expected: boolean | null; eq_target: boolean | null }>(
      `SELECT to_jsonb(t) AS row, t.xmin::text AS xmin, ${same('$2')} AS eq_expected, ${same('$3')} AS eq_target FROM ${T} t WHERE t.id = $1 FOR UPDATE`,
      [g.rowId, json(g.expected), json(g.target)],
    );
    const current = cur.rows[0] ?? null;
    const isTarget = g.target === null ? current === null : current?.eq_target === true;
    // A loaded row is as the load left it while no write has given it another xmin (32 bits of the load's transaction id).
    const isExpected = g.loadXid ? current !== null && Number(current.xmin) === Number(BigInt(g.loadXid) % 2n ** 32n) : g.expected === null ? current === null : current?.eq_expected === true;
    if (isTarget) return { kind: 'already' };
    if (!isExpected && !input.force) {
      return {
        kind: 'conflict',
        reason: current === null ? 'row deleted after the run' : g.expected === null && !g.loadXid ? 'row created again after the run' : 'row changed after the run',
        legacyId: (current?.row.legacy_id as number | null | undefined) ?? null,
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
        const i = await client.query<{ row: Record<string, unknown> }>(`INSERT INTO ${T} AS t SELECT * FROM jsonb_populate_record(NULL::${T}, $1::jsonb) RETURNING to_jsonb(t) AS row`, [
          json(g.target),
        ]);
        restored = i.rows[0].row;
        operation = 'insert';
      }
    } catch (err) {
      const e = err as Error & { code?: string; detail?: string };
      if (!e.code) throw err;
      await client.query('ROLLBACK TO SAVEPOINT rollback_row');
      const legacyId = (current?.row.legacy_id as number | null | undefined) ?? null;
      if (e.code === '23503') return { kind: 'conflict', reason: `has dependants: ${e.detail ?? e.message}`, legacyId };
      return { kind: 'conflict', reason: `cannot restore: ${e.message}${e.detail ? ` (${e.detail})` : ''}`, legacyId };
    }
    const legacyId = ((g.target?.legacy_id ?? current?.row.legacy_id ?? g.expected?.legacy_id ?? g.legacyId) as number | null) ?? null;
    // (A dry run journals nothing: even a rolled-back insert would advance the journal's id sequence.)
    if (!input.dryRun) {
      await journal(client, input.rollbackId, marker(input.rollbackId, 'new', g), [
        { side: 'new', table: T, rowId: g.rowId, legacyId, operation, before: current?.row ?? null, after: restored },
      ]);
    }
    return { kind: 'restored', legacyId };
  } finally {
    await client.query('RELEASE SAVEPOINT rollback_row').catch(() => {});
  }
}

/** Conflicts whose resolution (a run of kind resolution) is undone by this rollback are open again. */
async function reopenResolutions(client: pg.PoolClient, selection: RollbackSelection): Promise<number> {
  if (!selection.runIds) return 0;
  const res = await client.query<{ id: string; details: { conflictId?: number } | null }>(`SELECT id, details FROM sync_runs WHERE kind = 'resolution' AND id = ANY($1::text[])`, [
    selection.runIds,
  ]);
  let n = 0;
  for (const r of res.rows) {
    const id = r.details?.conflictId;
    if (id === undefined) continue;
    const c = await reopenConflict(client, id);
    if (c && c.legacyId !== null) {
      await reopenReview(client, c.table, c.legacyId, id);
      n++;
    }
  }
  return n;
}

/** Conflicts opened again by a rollback, for their review workflows. */
export async function reopenedConflicts(pool: pg.Pool, selection: RollbackSelection): Promise<{ conflictId: number; table: string; legacyId: number | null }[]> {
  if (!selection.runIds) return [];
  const res = await pool.query<{ details: { conflictId?: number } | null }>(`SELECT details FROM sync_runs WHERE kind = 'resolution' AND id = ANY($1::text[])`, [selection.runIds]);
  const out: { conflictId: number; table: string; legacyId: number | null }[] = [];
  for (const r of res.rows) {
    const c = r.details?.conflictId === undefined ? null : await getConflict(pool, r.details.conflictId);
    if (c && c.status === 'open') out.push({ conflictId: c.id, table: c.table, legacyId: c.legacyId });
  }
  return out;
}

/**
 * PostgreSQL's record of the legacy agent's restores: journaled under the rollback. A
 * delivery the write-back had written is restored on legacy, and the order, which holds the
 * change, is queued to be written back again: its base becomes the restored delivery (what
 * both sides agreed on before), so a legacy edit made meanwhile merges instead of winning. A
 * delivery the write-back had inserted is gone again: its order loses that legacy_id.
 */
export async function recordLegacyRestores(
  pool: pg.Pool,
  deps: { config: SyncConfig; eudc: EudcMap },
  input: { rollbackId: string; dryRun: boolean; stepKey: string },
  restores: LegacyRestore[],
): Promise<RollbackPageResult> {
  const result = emptyPage(null, false);
  if (input.dryRun) {
    for (const r of restores) count(result, 'legacy', r, outcomeOf(r));
    return result;
  }
  return inTransaction(pool, async (client) => {
    // Recorded under the step's key: run again after this commit, the step answers from here (its claims are gone by then).
    const tables = [...new Set(restores.map((r) => r.table))].sort().join(',');
    const prior = await claimBatch<RollbackPageResult>(client, { key: input.stepKey, runId: input.rollbackId, table: tables, direction: 'rollback' });
    if (prior) return prior;
    await asSync(client);
    const done = await client.query<{ batch_key: string }>(`SELECT DISTINCT batch_key FROM sync_journal WHERE run_id = $1 AND batch_key = ANY($2::text[])`, [
      input.rollbackId,
      restores.map((r) => marker(input.rollbackId, 'legacy', r)),
    ]);
    const recorded = new Set(done.rows.map((r) => r.batch_key));
    const requeue = new Set<number>();
    for (const r of restores) {
      count(result, 'legacy', r, outcomeOf(r));
      if (r.outcome !== 'restored' || recorded.has(marker(input.rollbackId, 'legacy', r))) continue;
      await journal(client, input.rollbackId, marker(input.rollbackId, 'legacy', r), [
        { side: 'legacy', table: r.table, rowId: r.rowId, legacyId: r.rowId, operation: r.operation!, before: r.before ?? null, after: r.after ?? null },
      ]);
      const cfg = deps.config.tables.find((t) => t.legacyTable === r.table);
      if (r.table !== 'deliveries' || !cfg?.directions.includes('new-to-legacy')) continue;
      const orders = await client.query<{ id: number }>(`SELECT id FROM orders WHERE legacy_id = $1`, [r.rowId]);
      orders.rows.forEach((o) => requeue.add(o.id));
      if (!r.after) {
        await client.query(
          `WITH b AS (SELECT o.* FROM orders o WHERE o.legacy_id = $1),
           w AS (UPDATE orders o SET legacy_id = NULL FROM b WHERE o.id = b.id RETURNING o.*)
           INSERT INTO sync_journal (run_id, batch_key, side, table_name, row_id, legacy_id, operation, before, after)
           SELECT $2, $3, 'new', 'orders', w.id, b.legacy_id, 'update', to_jsonb(b), to_jsonb(w) FROM w JOIN b ON b.id = w.id`,
          [r.rowId, input.rollbackId, marker(input.rollbackId, 'legacy', r)],
        );
        await forgetRowStates(client, 'deliveries', [r.rowId]);
      } else {
        const base = await imageOfLegacy(client, cfg.mapping, r.after, cfg.textColumns, deps.eudc);
        await recordWrittenBack(client, 'deliveries', [{ legacyId: r.rowId, hash: r.hash!, ts: r.ts!, base }]);
      }
    }
    result.requeuedOrders = await queueOrders(client, [...requeue]);
    await finishBatch(client, input.stepKey, result);
    return result;
  });
}

const outcomeOf = (r: LegacyRestore): Outcome => (r.outcome === 'conflict' ? { kind: 'conflict', reason: r.reason ?? 'conflict' } : { kind: r.outcome });

/** A legacy raw image as a new-row image (mapped, parents as new ids): a merge base. Null when it does not convert. */
async function imageOfLegacy(
  client: pg.PoolClient,
  mapping: TableMapping,
  raw: RawImage,
  encodings: Record<string, 'auto' | 'cp950' | 'utf8'>,
  eudc: EudcMap,
): Promise<NewValues | null> {
  const cols: RawRow['cols'] = {};
  for (const c of mapping.legacyColumns) {
    const v = raw[c.name] ?? null;
    cols[c.name] = v === null ? null : c.kind === 'text' ? Buffer.from(String(v), 'hex') : Number(v);
  }
  const converted = convertRow({ id: Number(raw.id), cols }, mapping, encodings, eudc);
  if (!converted.ok) return null;
  const image: NewValues = { ...converted.row.values, deleted_at: null };
  for (const p of mapping.parents) {
    const legacyParent = converted.row.parents[p.column];
    const res = legacyParent === null ? { rows: [] } : await client.query<{ id: number }>(`SELECT id FROM ${p.newTable} WHERE legacy_id = $1`, [legacyParent]);
    image[p.newColumn] = res.rows[0]?.id ?? null;
  }
  return image;
}
