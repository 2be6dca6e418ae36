import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PreparedPage } from '../../src/apply/loadPage';
import { PagePreparers, type Prepared } from '../../src/apply/loadThreads';
import { ParentIds } from '../../src/apply/parentIds';
import { readIdRange, type RawPage } from '../../src/capture/legacyReader';
import { loadSyncConfig, tableConfig, type TableConfig } from '../../src/config/tables';
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

const config = loadSyncConfig(path.join(CONFIG_DIR, 'tables.json'));
const eudc = loadEudcMap();

/** A legacy file's path in a folder of its own, removed after the describe block that asks for it. */
function legacyFile(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'legacy.db');
}

/** Pages of these sizes, one after another from the table's first row. */
function readPages(db: Database.Database, cfg: TableConfig, sizes: number[]): RawPage[] {
  const pages: RawPage[] = [];
  let after = 0;
  for (const size of sizes) {
    const page = readIdRange(db, cfg.mapping, after, null, size);
    pages.push(page);
    after = page.lastId;
  }
  return pages;
}

describe('pages prepared on page threads', () => {
  const file = legacyFile('load-threads-');
  const cfg = tableConfig(config, 'deliveries');
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
      pages = readPages(db, cfg, [300, 200, 300, 250, 300, 6_000, 300, 1_000]);
    } finally {
      db.close();
    }
  });

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

  it('fails a page cut short with an error that says so, on a thread as on the loading thread, and the threads go on with the next pages', async () => {
    // The first page and a last record that runs past its end: in its digits, or in its text bytes (5 said, 3 there).
    const first = pages[0];
    const kinds = (kind: string) => cfg.mapping.legacyColumns.filter((c) => c.kind === kind).length;
    const header = ['9999', ...Array<string>(kinds('integer')).fill('1'), ...Array<string>(kinds('text') - 1).fill('-1'), '5'].join(',');
    const cutAt = (tail: string): RawPage => ({ ...first, blob: Buffer.concat([first.blob, Buffer.from(tail, 'latin1')]) });
    const inDigits = cutAt('9999,12');
    const inText = cutAt(`${header};abc`);
    const message = (page: RawPage) =>
      `a page of deliveries is cut short: its record at byte ${first.blob.length} runs past the page's end (${page.blob.length} bytes)`;

    const alone = new PagePreparers(config, cfg, eudc, parents, { threads: 0 });
    await expect(alone.prepare(inDigits)).rejects.toThrow(message(inDigits));
    await expect(alone.prepare(inText)).rejects.toThrow(message(inText));
    const expected = contents((await alone.prepare(pages[1])).page);
    alone.close();

    const threaded = new PagePreparers(config, cfg, eudc, parents, { threads: 2 });
    try {
      // Each thread fails a page, between good ones: the failed pages' memory is taken again by the next.
      const sent = [inDigits, pages[1], inText, pages[1], pages[1]];
      const results = await Promise.allSettled(sent.map((p) => threaded.prepare(p)));
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      for (const [k, r] of results.entries()) {
        if (r.status === 'rejected') expect((r.reason as Error).message).toBe(message(sent[k]));
        else {
          expect(contents(r.value.page)).toEqual(expected);
          r.value.release();
        }
      }
      const again = await threaded.prepare(pages[1]);
      expect(contents(again.page)).toEqual(expected);
      again.release();
    } finally {
      threaded.close();
    }
  });
});

describe('a table with a natural key on a page thread', () => {
  const file = legacyFile('load-threads-keys-');
  const cfg = tableConfig(config, 'clients');
  let pages: RawPage[];

  beforeAll(() => {
    generateLegacyDb({ path: file, seed: 19, clients: 900, drivers: 1, deliveries: 0 });
    const db = new Database(file);
    try {
      // One code that is another's once trimmed: the later row is held back, naming the earlier.
      db.prepare(`UPDATE clients SET client_code = (SELECT client_code FROM clients WHERE id = 100) || ' ' WHERE id = 700`).run();
      pages = readPages(db, cfg, [300, 300, 300]);
    } finally {
      db.close();
    }
  });

  const load = async () => {
    // One thread in the pool, so both loads have the same one.
    const preparers = new PagePreparers(config, cfg, eudc, new Map(), { threads: 1 });
    try {
      expect(preparers.depth).toBe(2);
      const got = [];
      for (const page of pages) {
        const p = await preparers.prepare(page);
        got.push(contents(p.page));
        p.release();
      }
      return got;
    } finally {
      preparers.close();
    }
  };

  it('knows, on the next load of the table, none of the keys the last one inserted', async () => {
    const first = await load();
    const reasonOf = (id: number) => first.flatMap((p) => p.held).find((h) => h.legacyId === id)?.reason;
    expect(first.flatMap((p) => p.held.map((h) => h.legacyId))).toEqual([700]);
    expect(reasonOf(700)).toMatch(/^customer_code C\d+ is inserted for legacy_id 100 in the same batch$/);
    expect(first.map((p) => p.idAt.length)).toEqual([300, 300, 299]);
    // The thread is kept for the next load, its keys let go of: the same pages again, the same outcome.
    expect(await load()).toEqual(first);
  });
});
