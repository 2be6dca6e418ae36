import type Database from 'better-sqlite3';
import { readByIds } from '../capture/legacyReader';
import { contentHash, rawImage, updatedAtOf, type RawImage, type RawRow } from '../capture/rawRow';
import { deliveries } from '../convert/tables';
import { LEGACY_DELIVERY_COLUMNS, keepUnchanged, type LegacyValue, type LegacyWrite } from '../convert/toLegacy';
import type { TextEncodingMode } from '../encoding/cp950';
import type { EudcMap } from '../encoding/eudc';

/**
 * Apply, new → legacy: orders written into the legacy `deliveries` table, which the legacy
 * application keeps using. One short IMMEDIATE transaction per batch (it waits out a busy
 * file up to the busy timeout; past that SQLITE_BUSY fails the activity and Temporal
 * retries). Each row is written only if legacy still holds what the sync last saw of it.
 * Every outcome is logged in the file itself, in the same transaction, under the batch key:
 * a retried batch finds its log and never inserts a second legacy row.
 */

export interface LegacyWriteResult {
  orderId: number;
  legacyId: number | null;
  /** unchanged: legacy already held every value; skipped: legacy changed since it was last seen (see reason). */
  operation: 'insert' | 'update' | 'unchanged' | 'skipped';
  before: RawImage | null;
  after: RawImage | null;
  /** Content hash and updated_at text of the row as written: legacy → new skips it as unchanged. */
  hash: string | null;
  ts: string | null;
  reason?: string;
}

const WRITEBACK_LOG = 'luckygas_sync_writeback';

const cols: string[] = LEGACY_DELIVERY_COLUMNS.map(([c]) => c);
// Text is bound as bytes and stored as TEXT, as the legacy application stores it.
const placeholders = LEGACY_DELIVERY_COLUMNS.map(([, kind]) => (kind === 'text' ? 'CAST(? AS TEXT)' : '?'));
const INSERT = `INSERT INTO deliveries (${cols.join(', ')}) VALUES (${placeholders.join(', ')})`;
const INSERT_WITH_ID = `INSERT INTO deliveries (id, ${cols.join(', ')}) VALUES (?, ${placeholders.join(', ')})`;
/** Only the columns a write changes are set: the others keep their bytes and their storage class (a BLOB stays a BLOB). */
const updateOf = (changed: string[]) => `UPDATE deliveries SET ${changed.map((c) => `${c} = ${placeholders[cols.indexOf(c)]}`).join(', ')} WHERE id = ?`;

function ensureLog(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${WRITEBACK_LOG} (
    batch_key TEXT NOT NULL, order_id INTEGER NOT NULL, result TEXT NOT NULL, written_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (batch_key, order_id))`);
}

const sameValue = (a: LegacyValue | undefined, b: LegacyValue | undefined) =>
  Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : Buffer.isBuffer(a) || Buffer.isBuffer(b) ? false : (a ?? null) === (b ?? null);

export function writeDeliveries(
  db: Database.Database,
  batchKey: string,
  writes: LegacyWrite[],
  encodings: Record<string, TextEncodingMode>,
  eudc: EudcMap,
): LegacyWriteResult[] {
  ensureLog(db);
  const loggedResult = db.prepare(`SELECT result FROM ${WRITEBACK_LOG} WHERE batch_key = ? AND order_id = ?`);
  const log = db.prepare(`INSERT INTO ${WRITEBACK_LOG} (batch_key, order_id, result) VALUES (?, ?, ?)`);
  const insert = db.prepare(INSERT);
  const insertWithId = db.prepare(INSERT_WITH_ID);
  const updates = new Map<string, Database.Statement>();
  const update = (changed: string[]) => {
    const sql = updateOf(changed);
    let stmt = updates.get(sql);
    if (!stmt) updates.set(sql, (stmt = db.prepare(sql)));
    return stmt;
  };
  const readMany = (ids: number[]) => new Map(readByIds(db, deliveries, ids).map((r) => [r.id, r]));

  /** A write done (or found unneeded), its after-image still to be read. */
  type Done = { w: LegacyWrite; legacyId: number; operation: 'insert' | 'update' | 'unchanged'; before: RawRow | undefined };
  const finished = ({ w, legacyId, operation, before }: Done, after: RawRow): LegacyWriteResult => ({
    orderId: w.orderId,
    legacyId,
    operation,
    before: before ? rawImage(before) : null,
    after: rawImage(after),
    hash: contentHash(after),
    ts: updatedAtOf(after),
  });
  const skipped = (w: LegacyWrite, legacyId: number | null, reason: string): LegacyWriteResult => ({
    orderId: w.orderId,
    legacyId,
    operation: 'skipped',
    before: null,
    after: null,
    hash: null,
    ts: null,
    reason,
  });

  const one = (w: LegacyWrite, read: (id: number) => RawRow | undefined): Done | LegacyWriteResult => {
    const args = (values: Record<string, LegacyValue>) => cols.map((c) => values[c] ?? null);
    if ('insert' in w.expect) return { w, legacyId: Number(insert.run(...args(w.values)).lastInsertRowid), operation: 'insert', before: undefined };
    if ('absent' in w.expect) {
      const id = w.expect.absent;
      if (read(id)) return skipped(w, id, `legacy delivery ${id} exists again: the next legacy → new pass merges it`);
      insertWithId.run(id, ...args(w.values));
      return { w, legacyId: id, operation: 'insert', before: undefined };
    }
    const { legacyId, hash } = w.expect;
    const current = read(legacyId);
    if (!current) return skipped(w, legacyId, `legacy delivery ${legacyId} is gone: the next legacy → new pass sees the deletion`);
    if (contentHash(current) !== hash) return skipped(w, legacyId, `legacy delivery ${legacyId} changed since it was last read: the next legacy → new pass merges both changes`);
    const values = keepUnchanged(current, w, encodings, eudc);
    const changed = cols.filter((c) => !sameValue(values[c], current.cols[c] as LegacyValue));
    if (changed.length === 0) return { w, legacyId, operation: 'unchanged', before: current };
    update(changed).run(...changed.map((c) => values[c] ?? null), legacyId);
    return { w, legacyId, operation: 'update', before: current };
  };

  return db
    .transaction(() => {
      const logged = new Map<number, LegacyWriteResult>();
      for (const w of writes) {
        const prior = loggedResult.get(batchKey, w.orderId) as { result: string } | undefined;
        if (prior) logged.set(w.orderId, JSON.parse(prior.result) as LegacyWriteResult);
      }
      const todo = writes.filter((w) => !logged.has(w.orderId));
      // The rows as they are before, and after, all of the batch's writes: one query each, not
      // one per row (they were most of the write-back's time). No two writes of a batch touch
      // one row: each is an order's, and orders.legacy_id is unique.
      const before = readMany(todo.flatMap((w) => ('insert' in w.expect ? [] : ['absent' in w.expect ? w.expect.absent : w.expect.legacyId])));
      const outcomes = todo.map((w) => one(w, (id) => before.get(id)));
      const after = readMany(outcomes.flatMap((o) => ('w' in o ? [o.legacyId] : [])));
      const results = new Map(
        outcomes.map((o) => ('w' in o ? finished(o, after.get(o.legacyId)!) : o)).map((r) => [r.orderId, r]),
      );
      for (const r of results.values()) log.run(batchKey, r.orderId, JSON.stringify(r));
      return writes.map((w) => logged.get(w.orderId) ?? results.get(w.orderId)!);
    })
    .immediate();
}
