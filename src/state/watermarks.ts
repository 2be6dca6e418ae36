import type { Queryable } from '../db/postgres';
import type { Cursor } from '../shared';

/**
 * sync_state: where each table and direction has got to. Watermarks only move forward,
 * except when trigger mode takes over from a catch-up read.
 */

export interface Watermark {
  mode: 'timestamp' | 'trigger';
  cursor: Cursor;
}

export async function readWatermark(db: Queryable, table: string, direction: string): Promise<Watermark | null> {
  const res = await db.query<{ mode: string; cursor_ts: string | null; cursor_id: string }>(
    `SELECT mode, cursor_ts, cursor_id FROM sync_state WHERE table_name = $1 AND direction = $2`,
    [table, direction],
  );
  const s = res.rows[0];
  if (!s) return null;
  return {
    mode: s.mode === 'trigger' ? 'trigger' : 'timestamp',
    cursor: { ts: s.cursor_ts, id: Number(s.cursor_id) },
  };
}

/** Moves the watermark forward only: a lookback re-read or an old replay never moves it back. */
export async function advanceWatermark(db: Queryable, table: string, direction: string, mode: string, cursor: Cursor): Promise<void> {
  await db.query(
    `INSERT INTO sync_state (table_name, direction, mode, cursor_ts, cursor_id, updated_at) VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (table_name, direction) DO UPDATE SET cursor_ts = EXCLUDED.cursor_ts, cursor_id = EXCLUDED.cursor_id, mode = EXCLUDED.mode, updated_at = now()
     WHERE sync_state.mode IS DISTINCT FROM EXCLUDED.mode
        OR (COALESCE(sync_state.cursor_ts, ''), sync_state.cursor_id) < (COALESCE(EXCLUDED.cursor_ts, ''), EXCLUDED.cursor_id)`,
    [table, direction, mode, cursor.ts, cursor.id],
  );
}

/**
 * A catch-up read the table: from now on trigger mode follows its queue, from the queue's
 * beginning: the queue holds every change since the triggers were installed, deletions too,
 * which no read of the table can see; what the read already brought is skipped by its hash.
 */
export async function finishCatchup(db: Queryable, table: string): Promise<void> {
  await db.query(
    `INSERT INTO sync_state (table_name, direction, mode, cursor_ts, cursor_id) VALUES ($1, 'legacy-to-new', 'trigger', NULL, 0)
     ON CONFLICT (table_name, direction) DO UPDATE SET mode = 'trigger', cursor_ts = NULL, cursor_id = 0, updated_at = now()`,
    [table],
  );
}
