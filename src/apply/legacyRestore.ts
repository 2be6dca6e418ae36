import type Database from 'better-sqlite3';
import { readByIds } from '../capture/legacyReader';
import { contentHash, imageDiff, imagesEqual, rawImage, updatedAtOf, type RawImage } from '../capture/rawRow';
import { TABLE_MAPPINGS, type LegacyTableName } from '../convert/tables';

/**
 * Apply, a rollback's legacy side: legacy rows restored to their journal before-images, each
 * in one short IMMEDIATE transaction, only where the row still holds what the undone runs
 * left (else a conflict, unless forced). Each restore is logged in the file itself under the
 * rollback and journal id, so a retry after a crash between the file and PostgreSQL finishes
 * PostgreSQL's side instead of restoring twice.
 */

export interface LegacyRestoreItem {
  /** The group's latest journal entry: the restore's key in the log. */
  lastId: number;
  table: string;
  rowId: number;
  target: RawImage | null;
  expected: RawImage | null;
}

export type LegacyRestorePlan = LegacyRestoreItem[];

export interface LegacyRestore {
  lastId: number;
  table: string;
  rowId: number;
  outcome: 'restored' | 'already' | 'conflict';
  reason?: string;
  operation?: 'insert' | 'update' | 'delete';
  before?: RawImage | null;
  after?: RawImage | null;
  /** Content hash and updated_at of the restored row (null: deleted). */
  hash?: string | null;
  ts?: string | null;
}

const RESTORE_LOG = 'luckygas_sync_rollback';

/** A raw-image value as bound to SQLite: text as its bytes (bound through CAST(? AS TEXT)). */
function bindValue(kind: 'text' | 'integer', v: string | number | null): Buffer | number | string | null {
  if (v === null) return null;
  if (kind === 'text') return typeof v === 'string' && /^([0-9a-f]{2})*$/i.test(v) ? Buffer.from(v, 'hex') : Buffer.from(String(v), 'utf8');
  return typeof v === 'number' ? v : Number.isFinite(Number(v)) ? Number(v) : v;
}

export function restoreLegacyRows(db: Database.Database, rollbackId: string, plan: LegacyRestorePlan, opts: { dryRun: boolean; force: boolean }): LegacyRestore[] {
  if (!opts.dryRun) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${RESTORE_LOG} (
      rollback_id TEXT NOT NULL, journal_id INTEGER NOT NULL, result TEXT NOT NULL, restored_at TEXT NOT NULL DEFAULT (datetime('now')),
      PRIMARY KEY (rollback_id, journal_id))`);
  }
  const hasQueue = Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_queue'`).get());
  return plan.map((item) => {
    const m = TABLE_MAPPINGS[item.table as LegacyTableName];
    if (!m) return { ...key(item), outcome: 'conflict', reason: `no table mapping for legacy table '${item.table}'` };
    const keys = ['id', ...m.legacyColumns.map((c) => c.name)];
    const classify = (current: RawImage | null): LegacyRestore | null => {
      if (imagesEqual(current, item.target, keys)) return { ...key(item), outcome: 'already' };
      if (!imagesEqual(current, item.expected, keys) && !opts.force) {
        const reason =
          current === null
            ? 'row deleted after the run'
            : item.expected === null
              ? 'row created again after the run'
              : `row changed after the run (${imageDiff(current, item.expected, keys).join(', ')})`;
        return { ...key(item), outcome: 'conflict', reason };
      }
      return null;
    };
    const read = () => {
      const row = readByIds(db, m, [item.rowId])[0];
      return row ? rawImage(row) : null;
    };
    if (opts.dryRun) return classify(read()) ?? { ...key(item), outcome: 'restored' };

    const logged = db.prepare(`SELECT result FROM ${RESTORE_LOG} WHERE rollback_id = ? AND journal_id = ?`).get(rollbackId, item.lastId) as { result: string } | undefined;
    if (logged) return JSON.parse(logged.result) as LegacyRestore;
    return db
      .transaction((): LegacyRestore => {
        const before = read();
        const decided = classify(before);
        if (decided) return decided;
        const queueMark = hasQueue ? (db.prepare(`SELECT COALESCE(max(id), 0) AS n FROM sync_queue`).get() as { n: number }).n : null;
        let operation: LegacyRestore['operation'];
        if (item.target === null) {
          db.prepare(`DELETE FROM ${m.legacyTable} WHERE id = ?`).run(item.rowId);
          operation = 'delete';
        } else {
          const target = item.target;
          const cols = m.legacyColumns;
          const values = cols.map((c) => bindValue(c.kind, target[c.name] ?? null));
          const ph = cols.map((c) => (c.kind === 'text' ? 'CAST(? AS TEXT)' : '?'));
          if (before) {
            db.prepare(`UPDATE ${m.legacyTable} SET ${cols.map((c, i) => `${c.name} = ${ph[i]}`).join(', ')} WHERE id = ?`).run(...values, item.rowId);
            operation = 'update';
          } else {
            db.prepare(`INSERT INTO ${m.legacyTable} (id, ${cols.map((c) => c.name).join(', ')}) VALUES (?, ${ph.join(', ')})`).run(item.rowId, ...values);
            operation = 'insert';
          }
        }
        // The file's own change capture must not read the restore back as a legacy edit.
        if (queueMark !== null) db.prepare(`DELETE FROM sync_queue WHERE id > ? AND table_name = ? AND record_id = ?`).run(queueMark, m.legacyTable, item.rowId);
        const now = readByIds(db, m, [item.rowId])[0];
        const result: LegacyRestore = {
          ...key(item),
          outcome: 'restored',
          operation,
          before,
          after: now ? rawImage(now) : null,
          hash: now ? contentHash(now) : null,
          ts: now ? updatedAtOf(now) : null,
        };
        db.prepare(`INSERT INTO ${RESTORE_LOG} (rollback_id, journal_id, result) VALUES (?, ?, ?)`).run(rollbackId, item.lastId, JSON.stringify(result));
        return result;
      })
      .immediate();
  });
}

const key = (item: LegacyRestoreItem) => ({ lastId: item.lastId, table: item.table, rowId: item.rowId });
