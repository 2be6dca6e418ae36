import Database from 'better-sqlite3';
import { newestCursor } from '../../src/capture/legacyReader';

describe('newestCursor', () => {
  // As the legacy schema has it: updated_at TEXT NOT NULL, indexed.
  const table = (rows: [number, string | Buffer][]) => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE deliveries (id INTEGER PRIMARY KEY, updated_at TEXT NOT NULL); CREATE INDEX idx_deliveries_updated_at ON deliveries(updated_at);`);
    const insert = db.prepare('INSERT INTO deliveries (id, updated_at) VALUES (?, ?)');
    for (const [id, ts] of rows) insert.run(id, ts);
    return db;
  };

  it('is the greatest updated_at, and the greatest id among the rows that hold it', () => {
    const db = table([
      [1, '2024-01-02 00:00:00'],
      [7, '2024-03-01 08:00:00'],
      [3, '2024-03-01 08:00:00'],
      [12, '2024-02-28 23:59:59'],
    ]);
    expect(newestCursor(db, 'deliveries')).toEqual({ ts: '2024-03-01 08:00:00', id: 7 });
  });

  it('orders values as SQLite does: a value stored as a blob after every text', () => {
    const db = table([
      [5, '2025-12-31 00:00:00'],
      [8, Buffer.from('2020-01-01 00:00:00')],
      [9, '2026-01-01 00:00:00'],
    ]);
    expect(newestCursor(db, 'deliveries')).toEqual({ ts: '2020-01-01 00:00:00', id: 8 });
  });

  it('is nothing for an empty table', () => {
    expect(newestCursor(table([]), 'deliveries')).toEqual({ ts: '', id: 0 });
  });
});
