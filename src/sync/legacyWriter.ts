import type Database from 'better-sqlite3';
import { contentHash, rawImage, type RawRow } from '../mapping/convertRow';
import { deliveries } from '../mapping/tables';
import { LEGACY_DELIVERY_COLUMNS, type LegacyValue } from '../mapping/toLegacy';
import { readByIds } from './legacyReader';

/**
 * Writes orders into the legacy `deliveries` table, which the legacy application keeps
 * using: one short IMMEDIATE transaction per batch (it waits out a busy file up to the
 * connection's busy timeout; past that SQLITE_BUSY fails the activity and Temporal retries).
 * Every write is logged in the file itself, in the same transaction, under its batch key:
 * a retried batch finds its log and never inserts a second legacy row.
 */

export interface LegacyWrite {
  orderId: number;
  /** The delivery to update, or null to insert one. */
  legacyId: number | null;
  values: Record<string, LegacyValue>;
}

export interface LegacyWriteResult {
  orderId: number;
  legacyId: number;
  operation: 'insert' | 'update';
  before: Record<string, string | number | null> | null;
  after: Record<string, string | number | null>;
  /** Content hash of the row as written: the legacy → new direction skips it as unchanged. */
  hash: string;
}

const LOG_TABLE = 'luckygas_sync_writeback';

const cols = LEGACY_DELIVERY_COLUMNS.map(([c]) => c);
const placeholders = LEGACY_DELIVERY_COLUMNS.map(([, kind]) => (kind === 'text' ? 'CAST(? AS TEXT)' : '?'));
const INSERT = `INSERT INTO deliveries (${cols.join(', ')}) VALUES (${placeholders.join(', ')})`;
const UPDATE = `UPDATE deliveries SET ${cols.map((c, i) => `${c} = ${placeholders[i]}`).join(', ')} WHERE id = ?`;

export function ensureWritebackLog(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${LOG_TABLE} (
    batch_key TEXT NOT NULL, order_id INTEGER NOT NULL, result TEXT NOT NULL, written_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (batch_key, order_id))`);
}

export function writeDeliveries(db: Database.Database, batchKey: string, writes: LegacyWrite[]): LegacyWriteResult[] {
  ensureWritebackLog(db);
  const logged = db.prepare(`SELECT result FROM ${LOG_TABLE} WHERE batch_key = ? AND order_id = ?`);
  const log = db.prepare(`INSERT INTO ${LOG_TABLE} (batch_key, order_id, result) VALUES (?, ?, ?)`);
  const insert = db.prepare(INSERT);
  const update = db.prepare(UPDATE);
  const readOne = (id: number): RawRow | undefined => readByIds(db, deliveries, [id])[0];

  return db
    .transaction(() =>
      writes.map((w): LegacyWriteResult => {
        const prior = logged.get(batchKey, w.orderId) as { result: string } | undefined;
        if (prior) return JSON.parse(prior.result) as LegacyWriteResult;
        const args = cols.map((c) => w.values[c] ?? null);
        const before = w.legacyId === null ? undefined : readOne(w.legacyId);
        let legacyId: number;
        if (before) {
          update.run(...args, before.id);
          legacyId = before.id;
        } else {
          legacyId = Number(insert.run(...args).lastInsertRowid);
        }
        const after = readOne(legacyId)!;
        const result: LegacyWriteResult = {
          orderId: w.orderId,
          legacyId,
          operation: before ? 'update' : 'insert',
          before: before ? rawImage(before) : null,
          after: rawImage(after),
          hash: contentHash(after),
        };
        log.run(batchKey, w.orderId, JSON.stringify(result));
        return result;
      }),
    )
    .immediate();
}
