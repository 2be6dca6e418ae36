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
import { collectGarbage } from './garbage';
import { prepareLoadPage, ROW_BYTES, STATE_BYTES, type LoadTable, type PreparedPage } from './loadPage';
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
 * page once warm, and a first cycle loads its tables one after another. A core worker starts
 * them as it starts (startPageThreads), so that its first load finds them ready; a load that
 * finds too few starts LOAD_THREADS at a time, so that a table with a natural key leaves the
 * others started for the next load. They stop once no load has used them for IDLE_MS.
 * (Started as each load begins instead, they competed with the first cycle's first loads for
 * the cores: slower, measured.)
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

/**
 * A page's bytes and its COPY data cross between threads through slots of memory both share,
 * each used by page after page. A message would copy them (a Redis reply's slice of a larger
 * buffer, whole); a transfer needs memory of its own per page, and every MB of those counts
 * towards the receiving thread's next full collection: the main thread's (~55 MB of heap to
 * mark) came every 25 pages. Slots are made as the pipeline needs them, and larger when a
 * page outgrew one (that page's data then crosses on its own, moved).
 */
interface OutputSlot {
  rows: SharedArrayBuffer;
  states: SharedArrayBuffer;
}
/** COPY data in the page's output slot (its first `bytes`), or on its own when it outgrew the slot. */
type SlotData = { bytes: number } | Uint8Array;
type PageOut = Omit<PreparedPage, 'rows' | 'states'> & { rows: SlotData; states: SlotData };

type Message =
  | { table: TableStart }
  /** A page, its bytes in input slot `input` (sent along when new or grown). */
  | { page: Omit<RawPage, 'blob'>; input: number; bytes: number; inputMemory?: SharedArrayBuffer }
  /** Output slot `free` is written to PostgreSQL: the thread may use it again. */
  | { free: number }
  /** The load is over: the thread lets go of its table and collects its heap. */
  | { forget: true };
/** Each reply names the page's output slot, and carries its memory when the thread made it new. */
type Reply = { slot: number; memory?: OutputSlot } & ({ ok: true; page: PageOut } | { ok: false; message: string; stack?: string });

/** A prepared page, and the call that gives its memory back once PostgreSQL has its data. */
export interface Prepared {
  page: PreparedPage;
  release(): void;
}

/** Room for `bytes` and a quarter more (pages of a table differ a little), 64 KB at least. */
const roomFor = (bytes: number) => Math.max(64 * 1024, Math.ceil(bytes * 1.25));

/** One side's slots by number: a free one taken for the next page, or one made when none is free or large enough. */
class Slots<T> {
  private readonly all: T[] = [];
  private readonly free: number[] = [];

  /** A slot for the next page; `made` when it is new memory, which the other thread must be sent. */
  take(fits: (memory: T) => boolean, make: () => T): { slot: number; made?: T } {
    let slot = this.free.pop();
    if (slot !== undefined && fits(this.all[slot])) return { slot };
    slot ??= this.all.length;
    const made = make();
    this.all[slot] = made;
    return { slot, made };
  }

  get(slot: number): T {
    return this.all[slot];
  }

  give(slot: number): void {
    this.free.push(slot);
  }
}

const THREAD_SCRIPT = 'loadThreads.js';
/** How long started threads wait for the next load before they stop. */
const IDLE_MS = 60_000;

/** A page thread: its replies answer its pages in the order they were sent. */
class PageThread {
  private readonly worker: Worker;
  private readonly waiting: { input: number; resolve: (p: Prepared) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  private readonly inputs = new Slots<SharedArrayBuffer>();
  /** Output slots by number, as the thread made them. */
  private readonly outputs: OutputSlot[] = [];

  constructor(script: string) {
    // Their young generation is the worker's setting for its threads (src/temporal/worker.ts).
    this.worker = new Worker(script, { workerData: { pageThread: true } });
    this.worker.on('message', (r: Reply) => {
      const q = this.waiting.shift()!;
      this.inputs.give(q.input);
      if (r.memory) this.outputs[r.slot] = r.memory;
      if (!r.ok) return q.reject(Object.assign(new Error(r.message), { stack: r.stack }));
      const out = this.outputs[r.slot];
      const data = (d: SlotData, memory: SharedArrayBuffer) => (d instanceof Uint8Array ? d : Buffer.from(memory, 0, d.bytes));
      q.resolve({ page: { ...r.page, rows: data(r.page.rows, out.rows), states: data(r.page.states, out.states) }, release: () => this.post({ free: r.slot }) });
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
    this.post({ table: start });
  }

  /** Its table let go of, and its heap collected, when nothing else is asked of it meanwhile. */
  forget(): void {
    this.post({ forget: true });
  }

  prepare(page: RawPage): Promise<Prepared> {
    if (this.failure) return Promise.reject(this.failure);
    const { blob, ...rest } = page;
    const { slot: input, made: inputMemory } = this.inputs.take(
      (memory) => memory.byteLength >= blob.length,
      () => new SharedArrayBuffer(roomFor(blob.length)),
    );
    blob.copy(Buffer.from(this.inputs.get(input)));
    const message: Message = { page: rest, input, bytes: blob.length, inputMemory };
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.post(message);
    });
  }

  private post(message: Message): void {
    if (!this.failure) this.worker.postMessage(message);
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

/** Stops the idle threads once no load has taken them for IDLE_MS. */
function stopWhenIdle(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => idle.splice(0).forEach((t) => void t.stop()), IDLE_MS);
  idleTimer.unref();
}

/**
 * Page threads started ahead of any load, as many as a load of a table without a natural key
 * takes (`threads`, LOAD_THREADS, no more than the cores); none when pages are prepared on the
 * calling thread. They stop after IDLE_MS if no load comes.
 */
export function startPageThreads(threads: number): void {
  const pool = poolOf(threads);
  if (!pool) return;
  startThreads(pool.script, pool.size);
  stopWhenIdle();
}

/** The thread script and how many threads a load may have (`threads`, no more than the cores); null when pages are prepared on the calling thread. */
function poolOf(threads: number): { script: string; size: number } | null {
  const script = threads > 0 ? threadScript() : null;
  return script ? { script, size: Math.min(threads, os.availableParallelism()) } : null;
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
 * clients) lets go of them and collects its whole heap at once: its next load makes little that
 * lives long, so its heap would otherwise keep that memory through it (a 10M load's peak 260.9
 * MB against 238.2). (A fresh thread started in its place instead, the deliveries' load began
 * with two cold threads, one of them still starting.)
 */
function returnThreads(threads: PageThread[], keep: number, heldKeys: boolean): void {
  for (const t of threads) {
    if (t.healthy && idle.length < keep) {
      if (heldKeys) t.forget();
      t.inUse(false);
      idle.push(t);
    } else void t.stop();
  }
  stopWhenIdle();
}

export class PagePreparers {
  private readonly threads: PageThread[] = [];
  private readonly local: LoadTable | null = null;
  private readonly keep: number = 0;
  private readonly heldKeys: boolean = false;
  private next = 0;

  /** `threads`: at most this many (LOAD_THREADS), no more than the cores; 0 prepares pages on the calling thread. */
  constructor(config: SyncConfig, cfg: TableConfig, eudc: EudcMap, parents: Map<string, ParentIds>, opts: { threads: number }) {
    const pool = poolOf(opts.threads);
    if (!pool) {
      this.local = { cfg, eudc, parents, insertedKeys: new Map() };
      return;
    }
    this.keep = pool.size;
    this.heldKeys = Boolean(cfg.mapping.naturalKey);
    this.threads = takeThreads(pool.script, this.heldKeys ? 1 : this.keep, this.keep);
    const start: TableStart = { tables: config.tables.map(({ mapping: _m, rules: _r, ...raw }) => raw), table: cfg.legacyTable, eudc, parents };
    for (const t of this.threads) t.begin(start);
  }

  /** How many pages to have in preparation at once: one per thread, and one more waiting. */
  get depth(): number {
    return this.local ? 1 : this.threads.length + 1;
  }

  /** The page, prepared; pages go to the threads in turn, each thread's in the order given. */
  prepare(page: RawPage): Promise<Prepared> {
    if (this.local) {
      try {
        return Promise.resolve({ page: prepareLoadPage(this.local, page), release: () => {} });
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.threads[this.next++ % this.threads.length].prepare(page);
  }

  /** The threads back to the pool: pages still in preparation are answered first, to no one. */
  close(): void {
    if (this.threads.length > 0) returnThreads(this.threads, this.keep, this.heldKeys);
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
  /** Input slots by number, as the main thread made them. */
  const inputs: SharedArrayBuffer[] = [];
  const outputs = new Slots<OutputSlot>();
  /** The most a page's data took: slots are made that large (and a quarter more). */
  const most = { rows: 0, states: 0 };
  port.on('message', (m: Message) => {
    if ('table' in m) {
      const start = m.table;
      const parents = new Map([...start.parents].map(([column, ids]) => [column, ParentIds.received(ids)]));
      load = { cfg: tableConfig(parseSyncConfig({ tables: start.tables }), start.table), eudc: start.eudc, parents, insertedKeys: new Map() };
      return;
    }
    if ('free' in m) {
      outputs.give(m.free);
      return;
    }
    if ('forget' in m) {
      load = null;
      collectGarbage('full');
      return;
    }
    if (m.inputMemory) inputs[m.input] = m.inputMemory;
    const want = { rows: Math.max(most.rows, m.page.count * ROW_BYTES), states: Math.max(most.states, m.page.count * STATE_BYTES) };
    const { slot, made: memory } = outputs.take(
      (o) => o.rows.byteLength >= want.rows && o.states.byteLength >= want.states,
      () => ({ rows: new SharedArrayBuffer(roomFor(want.rows)), states: new SharedArrayBuffer(roomFor(want.states)) }),
    );
    const out = outputs.get(slot);
    let reply: Reply;
    try {
      if (!load) throw new Error('a page came before its table');
      const p = prepareLoadPage(load, receivedPage({ ...m.page, blob: Buffer.from(inputs[m.input], 0, m.bytes) }), { rows: Buffer.from(out.rows), states: Buffer.from(out.states) });
      most.rows = Math.max(most.rows, p.rows.byteLength);
      most.states = Math.max(most.states, p.states.byteLength);
      const data = (d: Uint8Array, memory: SharedArrayBuffer): SlotData => (d.buffer === memory ? { bytes: d.byteLength } : d);
      reply = { ok: true, slot, memory, page: { ...p, rows: data(p.rows, out.rows), states: data(p.states, out.states) } };
    } catch (err) {
      // Nothing of the page is in the slot for anyone to give back.
      outputs.give(slot);
      reply = { ok: false, slot, memory, message: (err as Error).message, stack: (err as Error).stack };
    }
    // What did not stay in the slot is moved, not copied.
    const moved = reply.ok ? [reply.page.idAt, reply.page.rows, reply.page.states].filter((d) => ArrayBuffer.isView(d)).map((d) => d.buffer) : [];
    port.postMessage(reply, moved as ArrayBuffer[]);
  });
}
