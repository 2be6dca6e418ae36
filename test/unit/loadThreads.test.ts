import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PreparedPage } from '../../src/apply/loadPage';
import { PagePreparers, type Prepared } from '../../src/apply/loadThreads';
import { ParentIds } from '../../src/apply/parentIds';
import { readIdRange, type RawPage } from '../../src/capture/legacyReader';
import { loadSyncConfig, tableConfig } from '../../src/config/tables';
import { loadEudcMap } from '../../src/encoding/eudc';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { CONFIG_DIR } from '../../src/paths';

/** Parents' ids as readParentIds has them: every legacy id up to `n` is the new id one more. */
function parentIds(n: number): ParentIds {
  const buf = Buffer.alloc(n * 8);
  for (let i = 0; i < n; i++) {
    buf.writeInt32BE(i + 1, i * 8);
    buf.writeInt32BE(i + 2, i * 8 + 4);
  }
  return ParentIds.fromPairs(buf);
}

/** What a prepared page holds, its COPY data as plain bytes (copied out before its memory is given back). */
const contents = (p: PreparedPage) => ({ ...p, rows: Buffer.from(p.rows), states: Buffer.from(p.states), idAt: [...p.idAt] });

describe('pages prepared on page threads', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'load-threads-'));
  const file = path.join(dir, 'legacy.db');
  const config = loadSyncConfig(path.join(CONFIG_DIR, 'tables.json'));
  const cfg = tableConfig(config, 'deliveries');
  const eudc = loadEudcMap();
  // Clients 1..300 only: deliveries of the others wait for their parent, which a page says too.
  const parents = new Map([
    ['customer_id', parentIds(300)],
    ['driver_id', parentIds(20)],
  ]);
  let pages: RawPage[];

  beforeAll(() => {
    generateLegacyDb({ path: file, seed: 5, clients: 400, drivers: 20, deliveries: 9_000 });
    const db = new Database(file, { readonly: true });
    try {
      // Small pages first, then one several times larger, which outgrows the memory the threads kept for pages.
      pages = [];
      let after = 0;
      for (const size of [300, 200, 300, 250, 300, 6_000, 300, 1_000]) {
        const page = readIdRange(db, cfg.mapping, after, null, size);
        pages.push(page);
        after = page.lastId;
      }
    } finally {
      db.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each page the very data it has when prepared on the loading thread, while its memory is reused page after page', async () => {
    const alone = new PagePreparers(config, cfg, eudc, parents, { threads: 0 });
    const expected = [];
    for (const page of pages) expected.push(contents((await alone.prepare(page)).page));
    alone.close();
    expect(expected.reduce((n, p) => n + p.idAt.length, 0)).toBeGreaterThan(1_000);
    expect(expected.reduce((n, p) => n + p.waiting.length, 0)).toBeGreaterThan(100);

    const threaded = new PagePreparers(config, cfg, eudc, parents, { threads: 2 });
    try {
      // Two threads were started (the compiled thread script is there), not the loading thread alone.
      expect(threaded.depth).toBe(3);
      // As a load uses them: up to `depth` pages in preparation, each given back once written, so
      // the threads write later pages into the memory of earlier ones.
      const ahead: Promise<Prepared>[] = [];
      const got = [];
      let next = 0;
      while (got.length < pages.length) {
        while (ahead.length < threaded.depth && next < pages.length) ahead.push(threaded.prepare(pages[next++]));
        const { page, release } = await ahead.shift()!;
        got.push(contents(page));
        release();
      }
      expect(got).toEqual(expected);
      // Again, with every page held before any is given back: each needs memory of its own.
      const held = await Promise.all(pages.map((p) => threaded.prepare(p)));
      expect(held.map((h) => contents(h.page))).toEqual(expected);
      held.forEach((h) => h.release());
    } finally {
      threaded.close();
    }
  });
});
