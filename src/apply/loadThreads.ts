import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { RawPage } from '../capture/legacyReader';
import type { RawRow } from '../capture/rawRow';
import { parseSyncConfig, tableConfig, type SyncConfig, type TableConfig } from '../config/tables';
import type { EudcMap } from '../encoding/eudc';
import { PROJECT_ROOT } from '../paths';
import { prepareLoadPage, type LoadTable, type PreparedPage } from './loadPage';
import { ParentIds } from './parentIds';

/**
 * Pages of a load prepared on threads of their own (decoded, converted, reconciled, written
 * as COPY data: prepareLoadPage), so that a load uses every core while its own thread reads
 * and writes. Results come back in the order the pages went in. A table with a natural key
 * has one thread (the keys it inserted are that thread's to know); the others as many as
 * LOAD_THREADS says, no more than the cores. Pages are prepared on the calling thread with
 * LOAD_THREADS=0, where threads would not pay for their start (a thread loads its modules
 * again: ~0.5 s of CPU, more than a page costs) or where the compiled thread script is
 * missing (the tests run the TypeScript sources before a build).
 */

interface Start {
  /** The table configuration as parsed from JSON (without its mappings and rules, which are code). */
  tables: unknown[];
  table: string;
  eudc: EudcMap;
  /** Shared with the calling thread, not copied (ParentIds). */
  parents: Map<string, ParentIds>;
}

type Reply = { ok: true; page: PreparedPage } | { ok: false; message: string; stack?: string };

const THREAD_SCRIPT = 'loadThreads.js';

export class PagePreparers {
  private readonly threads: Worker[] = [];
  private readonly local: LoadTable | null = null;
  private next = 0;
  private waiting = new Map<Worker, { resolve: (p: PreparedPage) => void; reject: (e: Error) => void }[]>();

  /** `threads`: at most this many (LOAD_THREADS), no more than the cores; 0 prepares pages on the calling thread. */
  constructor(config: SyncConfig, cfg: TableConfig, eudc: EudcMap, parents: Map<string, ParentIds>, opts: { threads: number }) {
    const script = opts.threads > 0 ? threadScript() : null;
    if (!script) {
      this.local = { cfg, eudc, parents, insertedKeys: new Map() };
      return;
    }
    const count = cfg.mapping.naturalKey ? 1 : Math.min(opts.threads, os.availableParallelism());
    const start: Start = { tables: config.tables.map(({ mapping: _m, rules: _r, ...raw }) => raw), table: cfg.legacyTable, eudc, parents };
    for (let i = 0; i < count; i++) {
      // Their young generation is the worker's setting for its threads (src/temporal/worker.ts).
      const w = new Worker(script, { workerData: start });
      const queue: { resolve: (p: PreparedPage) => void; reject: (e: Error) => void }[] = [];
      this.waiting.set(w, queue);
      w.on('message', (r: Reply) => {
        const q = queue.shift()!;
        if (r.ok) q.resolve(r.page);
        else q.reject(Object.assign(new Error(r.message), { stack: r.stack }));
      });
      w.on('error', (err) => queue.splice(0).forEach((q) => q.reject(err)));
      this.threads.push(w);
    }
  }

  /** How many pages to have in preparation at once: one per thread, and one more waiting. */
  get depth(): number {
    return this.local ? 1 : this.threads.length + 1;
  }

  /** The page, prepared; pages go to the threads in turn, each thread's in the order given. */
  prepare(page: RawPage): Promise<PreparedPage> {
    if (this.local) {
      try {
        return Promise.resolve(prepareLoadPage(this.local, page));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const w = this.threads[this.next++ % this.threads.length];
    // A page's bytes are mostly a view of a larger buffer (a Redis reply is a slice of the
    // client's pool of several MB), which a message would copy whole: a copy of just the page
    // is handed over instead, moved rather than copied again. allocUnsafeSlow, as it never hands
    // out a slice of Node's own small-buffer pool, which may not be moved (newer Node throws).
    const blob = Buffer.allocUnsafeSlow(page.blob.length);
    page.blob.copy(blob);
    return new Promise((resolve, reject) => {
      this.waiting.get(w)!.push({ resolve, reject });
      w.postMessage({ ...page, blob }, [blob.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((w) => w.terminate()));
  }
}

/** The compiled thread script beside this module (dist/), or dist/'s when running from the TypeScript sources; null if not built. */
function threadScript(): string | null {
  const here = path.join(__dirname, THREAD_SCRIPT);
  if (existsSync(here)) return here;
  const built = path.join(PROJECT_ROOT, 'dist', 'src', 'apply', THREAD_SCRIPT);
  return existsSync(built) ? built : null;
}

/** Bytes that crossed a thread arrive as Uint8Array: the converter needs them as Buffers again (no copy). */
const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function receivedPage(page: RawPage): RawPage {
  const irregular: RawRow[] = page.irregular.map((r) => ({
    id: r.id,
    cols: Object.fromEntries(Object.entries(r.cols).map(([k, v]) => [k, v instanceof Uint8Array ? asBuffer(v) : v])),
  }));
  return { ...page, blob: asBuffer(page.blob), irregular };
}

if (!isMainThread && parentPort && (workerData as Start | undefined)?.table) {
  const start = workerData as Start;
  const parents = new Map([...start.parents].map(([column, ids]) => [column, ParentIds.received(ids)]));
  const load: LoadTable = { cfg: tableConfig(parseSyncConfig({ tables: start.tables }), start.table), eudc: start.eudc, parents, insertedKeys: new Map() };
  const port = parentPort;
  port.on('message', (page: RawPage) => {
    let reply: Reply;
    try {
      reply = { ok: true, page: prepareLoadPage(load, receivedPage(page)) };
    } catch (err) {
      reply = { ok: false, message: (err as Error).message, stack: (err as Error).stack };
    }
    const transfer = reply.ok ? [reply.page.rows.buffer, reply.page.states.buffer, reply.page.idAt.buffer] : [];
    port.postMessage(reply, transfer as ArrayBuffer[]);
  });
}
