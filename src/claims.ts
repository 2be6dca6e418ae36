import type Redis from 'ioredis';
import { Packr } from 'msgpackr';

/**
 * The claim-check between activities, and between the two roles: a batch waits in Redis
 * under a key with a TTL, and only the key travels through workflow history. MessagePack
 * keeps bytes as bytes (legacy text is raw CP950) at a fraction of JSON's size. Redis is
 * disposable: a missing claim is not an error of the data, the workflow reads the batch again.
 *
 * A table's load hands its pages over as a stream instead (ClaimStream): one list in Redis,
 * filled by the legacy agent at most `window` pages ahead of the core worker that empties it.
 */

export class ClaimMissingError extends Error {
  constructor(key: string) {
    super(`claim ${key} is gone from Redis (expired or flushed): the batch will be read again`);
    this.name = 'ClaimMissing';
  }
}

const packr = new Packr({ useRecords: true, moreTypes: false });

export class ClaimStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly prefix = 'luckygas:claim:',
  ) {}

  async put(key: string, value: unknown): Promise<void> {
    await this.redis.set(this.prefix + key, packr.pack(value), 'EX', this.ttlSeconds);
  }

  async get<T>(key: string): Promise<T> {
    const buf = await this.redis.getBuffer(this.prefix + key);
    if (!buf) throw new ClaimMissingError(key);
    return packr.unpack(buf) as T;
  }

  async drop(...keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => this.prefix + k));
  }

  stream<T>(key: string): ClaimStream<T> {
    return new ClaimStream<T>(this.redis, this.ttlSeconds, this.prefix + key);
  }
}

/** An entry of a stream: its place, and either an item or the end (with how many items came before it). */
type Entry<T> = { seq: number; item: T } | { seq: number; end: true };

/**
 * Items in order through a Redis list. Each carries its sequence number: the reader notices
 * an item that vanished (Redis flushed or restarted) and skips one written twice (a writer
 * that was retried resumes from its last recorded place, which may lag what it wrote).
 */
export class ClaimStream<T> {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    readonly key: string,
  ) {}

  /**
   * Appends an item once fewer than `window` wait to be read; `waiting` is called while it
   * waits (a heartbeat). Refused once the reader has closed the stream (it is done with it).
   */
  async push(seq: number, item: T, window: number, waiting: () => void = () => {}): Promise<void> {
    await this.waitForRoom(window, waiting);
    if (await this.redis.exists(`${this.key}:closed`)) throw new StreamClosedError(this.key);
    await this.append({ seq, item });
  }

  /** The end of the stream, after `seq` items. */
  async end(seq: number): Promise<void> {
    await this.append({ seq, end: true });
  }

  private async append(entry: Entry<T>): Promise<void> {
    await this.redis.multi().rpush(this.key, packr.pack(entry)).expire(this.key, this.ttlSeconds).exec();
  }

  private async waitForRoom(window: number, waiting: () => void): Promise<void> {
    for (let pause = 5; (await this.redis.llen(this.key)) >= window; pause = Math.min(pause * 2, 200)) {
      waiting();
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * The reader: items in order, then null at the end. It blocks on its own connection (a
   * blocking pop would hold up every other command of a shared one); `waiting` is called
   * every second while nothing comes, and may throw to give up.
   */
  reader(waiting: () => void = () => {}): { next(): Promise<T | null>; close(): void } {
    const conn = this.redis.duplicate();
    conn.on('error', () => {});
    let expected = 0;
    return {
      next: async () => {
        for (;;) {
          const popped = await conn.blpopBuffer(this.key, 1);
          if (!popped) {
            waiting();
            continue;
          }
          const entry = packr.unpack(popped[1]) as Entry<T>;
          if (entry.seq < expected) continue;
          if (entry.seq > expected) throw new ClaimMissingError(`${this.key} item ${expected}`);
          expected++;
          return 'end' in entry ? null : entry.item;
        }
      },
      close: () => conn.disconnect(),
    };
  }

  /** The reader is done: what is left is dropped, and the writer stops at its next item. */
  async close(): Promise<void> {
    await this.redis.multi().set(`${this.key}:closed`, '1', 'EX', this.ttlSeconds).del(this.key).exec();
  }
}

export class StreamClosedError extends Error {
  constructor(key: string) {
    super(`stream ${key} was closed by its reader`);
    this.name = 'StreamClosed';
  }
}
