import type Database from 'better-sqlite3';

/**
 * Trigger-based change capture in the legacy file (the design's option B): a sync_queue
 * table and INSERT/UPDATE/DELETE triggers that record which row changed. The queue id is the
 * watermark; deletes are seen. Table names come from the validated configuration.
 */

const triggerName = (table: string, op: string) => `luckygas_sync_${table}_${op}`;

export function installTriggers(db: Database.Database, tables: string[]): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS sync_queue (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      table_name TEXT NOT NULL,
      record_id INTEGER NOT NULL,
      operation TEXT NOT NULL,
      created_at TEXT NOT NULL DEFAULT (datetime('now', '+8 hours'))
    )`);
    db.exec('CREATE INDEX IF NOT EXISTS idx_sync_queue_table ON sync_queue(table_name, id)');
    for (const t of tables) {
      for (const [op, ref] of [['insert', 'NEW'], ['update', 'NEW'], ['delete', 'OLD']] as const) {
        db.exec(`CREATE TRIGGER IF NOT EXISTS ${triggerName(t, op)} AFTER ${op.toUpperCase()} ON ${t}
          BEGIN INSERT INTO sync_queue (table_name, record_id, operation) VALUES ('${t}', ${ref}.id, '${op.toUpperCase()}'); END`);
      }
    }
  })();
}

export function removeTriggers(db: Database.Database, tables: string[], { dropQueue = false } = {}): void {
  db.transaction(() => {
    for (const t of tables) for (const op of ['insert', 'update', 'delete']) db.exec(`DROP TRIGGER IF EXISTS ${triggerName(t, op)}`);
    if (dropQueue) db.exec('DROP TABLE IF EXISTS sync_queue');
  })();
}

export function installedTriggers(db: Database.Database): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'luckygas_sync_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
}
