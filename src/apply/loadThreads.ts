import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { RawPage } from '../capture/legacyReader';
import type { RawRow } from '../capture/rawRow';
import { parseSyncConfig, tableConfig, type SyncConfig, type TableConfig } from '../config/tables';
import { warmUpCp950 } from '../encoding/cp950';
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
 * LOAD_THREADS=0, or where the compiled thread script is missing (the tests run the
 * TypeScript sources before a build).
 *
 * The threads outlive a load: a thread takes ~0.2 s to start and prepare its first page
 * (loading its modules and decoder tables, then running cold code), against ~0.02 s for a
 * page once warm, and a first cycle loads its tables one after another. They are started
 * LOAD_THREADS at a time, so that a table with a natural key leaves the others started for the
 * next load, and stopped once no load has used them for IDLE_MS. (Started as each load begins
 * instead, they competed with the first cycle's first loads for the cores: slower, measured.)
 */

/** What a thread needs to prepare a table's pages. */
interface TableStart {
  /** The table configuration as parsed from JSON (without its mappings and rules, which are code). */
  tables: unknown[];
  table: string;
  eudc: EudcMap;
  /** Shared with the calling thread, not copied (ParentIds). */
  parents: Map<string, ParentIds>;
}

type Message = { table: TableStart } | { page: RawPage };
type Reply = { ok: true; page: PreparedPage } | { ok: false; message: string; stack?: string };

const THREAD_SCRIPT = 'loadThreads.js';
/** How long started threads wait for the next load before they stop. */
const IDLE_MS = 60_000;

/** A page thread: its replies answer its pages in the order they were sent. */
class PageThread {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (p: PreparedPage) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  constructor(script: string) {
    // Their young generation is the worker's setting for its threads (src/temporal/worker.ts).
    this.worker = new Worker(script, { workerData: { pageThread: true } });
    this.worker.on('message', (r: Reply) => {
      const q = this.waiting.shift()!;
      if (r.ok) q.resolve(r.page);
      else q.reject(Object.assign(new Error(r.message), { stack: r.stack }));
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.waiting.splice(0).forEach((q) => q.reject(err));
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`a page thread stopped (exit code ${code})`)));
  }

  get healthy(): boolean {
    return this.failure === null;
  }

  /** In a load's hands, or idle: an idle thread keeps no process alive. */
  inUse(yes: boolean): void {
    if (yes) this.worker.ref();
    else this.worker.unref();
  }

  /** The table whose pages follow. */
  begin(start: TableStart): void {
    this.worker.postMessage({ table: start } satisfies Message);
  }

  prepare(page: RawPage): Promise<PreparedPage> {
    if (this.failure) return Promise.reject(this.failure);
    // A page's bytes are mostly a view of a larger buffer (a Redis reply is a slice of the
    // client's pool of several MB), which a message would copy whole: a copy of just the page
    // is handed over instead, moved rather than copied again. allocUnsafeSlow, as it never hands
    // out a slice of Node's own small-buffer pool, which may not be moved (newer Node throws).
    const blob = Buffer.allocUnsafeSlow(page.blob.length);
    page.blob.copy(blob);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage({ page: { ...page, blob } } satisfies Message, [blob.buffer]);
    });
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Started threads no load is using, and the timer that stops them. */
const idle: PageThread[] = [];
let idleTimer: NodeJS.Timeout | null = null;

/** Idle threads started until there are `count` of them. */
function startThreads(script: string, count: number): void {
  while (idle.length < count) {
    const t = new PageThread(script);
    t.inUse(false);
    idle.push(t);
  }
}

/** `count` threads for a load; started `started` at a time when there are too few. */
function takeThreads(script: string, count: number, started: number): PageThread[] {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  if (idle.length < count) startThreads(script, Math.max(count, started));
  const taken = idle.splice(0, count);
  taken.forEach((t) => t.inUse(true));
  return taken;
}

/**
 * Threads back from a load: kept for the next one (no more than `keep` of them), stopped after
 * IDLE_MS unused. A thread that held a table's natural keys (a map of every key, 20 MB for 200k
 * clients, which its heap would keep) is stopped, and a fresh one started in its place.
 */
function returnThreads(script: string, threads: PageThread[], keep: number, heldKeys: boolean): void {
  for (const t of threads) {
    if (t.healthy && !heldKeys && idle.length < keep) {
      t.inUse(false);
      idle.push(t);
    } else void t.stop();
  }
  if (heldKeys) startThreads(script, keep);
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => idle.splice(0).forEach((t) => void t.stop()), IDLE_MS);
  idleTimer.unref();
}

export class PagePreparers {
  private readonly threads: PageThread[] = [];
  private readonly local: LoadTable | null = null;
  private readonly keep: number = 0;
  private readonly script: string = '';
  private readonly heldKeys: boolean = false;
  private next = 0;

  /** `threads`: at most this many (LOAD_THREADS), no more than the cores; 0 prepares pages on the calling thread. */
  constructor(config: SyncConfig, cfg: TableConfig, eudc: EudcMap, parents: Map<string, ParentIds>, opts: { threads: number }) {
    const script = opts.threads > 0 ? threadScript() : null;
    if (!script) {
      this.local = { cfg, eudc, parents, insertedKeys: new Map() };
      return;
    }
    this.script = script;
    this.keep = Math.min(opts.threads, os.availableParallelism());
    this.heldKeys = Boolean(cfg.mapping.naturalKey);
    this.threads = takeThreads(script, this.heldKeys ? 1 : this.keep, this.keep);
    const start: TableStart = { tables: config.tables.map(({ mapping: _m, rules: _r, ...raw }) => raw), table: cfg.legacyTable, eudc, parents };
    for (const t of this.threads) t.begin(start);
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
    return this.threads[this.next++ % this.threads.length].prepare(page);
  }

  /** The threads back to the pool: pages still in preparation are answered first, to no one. */
  close(): void {
    if (this.threads.length > 0) returnThreads(this.script, this.threads, this.keep, this.heldKeys);
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

if (!isMainThread && parentPort && (workerData as { pageThread?: boolean } | undefined)?.pageThread) {
  // The decoder's tables built as the thread starts (~30 ms): a thread started for the next load
  // builds them before its first page comes, not while the load waits for it.
  warmUpCp950();
  const port = parentPort;
  let load: LoadTable | null = null;
  port.on('message', (m: Message) => {
    if ('table' in m) {
      const start = m.table;
      const parents = new Map([...start.parents].map(([column, ids]) => [column, ParentIds.received(ids)]));
      load = { cfg: tableConfig(parseSyncConfig({ tables: start.tables }), start.table), eudc: start.eudc, parents, insertedKeys: new Map() };
      return;
    }
    let reply: Reply;
    try {
      if (!load) throw new Error('a page came before its table');
      reply = { ok: true, page: prepareLoadPage(load, receivedPage(m.page)) };
    } catch (err) {
      reply = { ok: false, message: (err as Error).message, stack: (err as Error).stack };
    }
    const transfer = reply.ok ? [reply.page.rows.buffer, reply.page.states.buffer, reply.page.idAt.buffer] : [];
    port.postMessage(reply, transfer as ArrayBuffer[]);
  });
}
