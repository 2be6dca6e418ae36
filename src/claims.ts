import type Redis from 'ioredis';
import { Packr } from 'msgpackr';

/**
 * The claim-check between activities, and between the two roles: a batch waits in Redis
 * under a key with a TTL, and only the key travels through workflow history. MessagePack
 * keeps bytes as bytes (legacy text is raw CP950) at a fraction of JSON's size. Redis is
 * disposable: a missing claim is not an error of the data, the workflow reads the batch again.
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
}
