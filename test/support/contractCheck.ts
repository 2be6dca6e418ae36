import Database from 'better-sqlite3';
import type pg from 'pg';
import { loadEudcMap } from '../../src/encoding/eudc';
import { readByIds, readIdChunk } from '../../src/capture/legacyReader';
import { TABLE_MAPPINGS } from '../../src/convert/tables';
import { convertRow } from '../../src/convert/toNew';

/**
 * Every legacy row, mapped by the contract's rules, against its PostgreSQL row: returns the
 * differences (empty when both sides agree), in chunks so large files stay cheap.
 */
export async function contractDifferences(legacyPath: string, pool: pg.Pool, limit = 20): Promise<string[]> {
  const db = new Database(legacyPath, { readonly: true });
  const eudc = loadEudcMap();
  const out: string[] = [];
  try {
    for (const mapping of Object.values(TABLE_MAPPINGS)) {
      let after = 0;
      for (;;) {
        const ids = readIdChunk(db, mapping.legacyTable, after, 5000);
        if (ids.length === 0) break;
        after = ids.at(-1)!;
        const got = await pool.query(`SELECT to_jsonb(t) AS row FROM ${mapping.newTable} t WHERE legacy_id = ANY($1::int[])`, [ids]);
        const byLegacy = new Map(got.rows.map((r) => [r.row.legacy_id as number, r.row as Record<string, unknown>]));
        const parents = await Promise.all(
          mapping.parents.map(async (p) => new Map((await pool.query(`SELECT id, legacy_id FROM ${p.newTable}`)).rows.map((r) => [r.legacy_id, r.id]))),
        );
        for (const raw of readByIds(db, mapping, ids)) {
          const conv = convertRow(raw, mapping, {}, eudc);
          const row = byLegacy.get(raw.id);
          if (!conv.ok) {
            out.push(`${mapping.legacyTable} ${raw.id}: does not convert (${conv.held.reason})`);
            continue;
          }
          if (!row) {
            out.push(`${mapping.legacyTable} ${raw.id}: missing in ${mapping.newTable}`);
            continue;
          }
          const expected: Record<string, unknown> = { ...conv.row.values };
          mapping.parents.forEach((p, i) => (expected[p.newColumn] = conv.row.parents[p.column] === null ? null : (parents[i].get(conv.row.parents[p.column]) ?? 'missing parent')));
          for (const [col, v] of Object.entries(expected)) {
            // Legacy keeps whole seconds: an order written back from PostgreSQL keeps only those.
            const actual = mapping.newColumns[col] === 'timestamptz' ? new Date(Math.floor(Date.parse(String(row[col])) / 1000) * 1000).toISOString() : row[col];
            if (JSON.stringify(actual) !== JSON.stringify(v)) out.push(`${mapping.legacyTable} ${raw.id}.${col}: legacy says ${JSON.stringify(v)}, PostgreSQL has ${JSON.stringify(actual)}`);
          }
          if (row.deleted_at !== null) out.push(`${mapping.legacyTable} ${raw.id}: deleted_at set but the legacy row exists`);
        }
        if (out.length >= limit) return out.slice(0, limit);
      }
    }
  } finally {
    db.close();
  }
  return out;
}
