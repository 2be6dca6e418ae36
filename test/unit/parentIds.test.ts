import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ParentIds } from '../../src/apply/parentIds';

/** (legacy id, new id) pairs as readParentIds gets them from PostgreSQL: int4send of each, back to back. */
function pairs(list: [number, number][]): Buffer {
  const buf = Buffer.alloc(list.length * 8);
  list.forEach(([legacyId, id], i) => {
    buf.writeInt32BE(legacyId, i * 8);
    buf.writeInt32BE(id, i * 8 + 4);
  });
  return buf;
}

describe('ParentIds', () => {
  const ids = ParentIds.fromPairs(pairs([[1, 10], [2, 11], [3, 12], [7, 40], [100, 5], [2_000_000_000, 6]]));

  it('finds the new id of every legacy id it holds, dense or not', () => {
    expect([...ids.legacyIds]).toEqual([1, 2, 3, 7, 100, 2_000_000_000]);
    expect([1, 2, 3, 7, 100, 2_000_000_000].map((id) => ids.get(id))).toEqual([10, 11, 12, 40, 5, 6]);
  });

  it('has no new id for a legacy id it does not hold', () => {
    for (const id of [0, -1, 4, 6, 8, 99, 101, 2_000_000_001, 3_000_000_000, 1.5, Number.NaN]) expect(ids.get(id)).toBeUndefined();
  });

  it('holds nothing when the parent table has no synced row', () => {
    const none = ParentIds.fromPairs(Buffer.alloc(0));
    expect(none.legacyIds).toHaveLength(0);
    expect(none.get(1)).toBeUndefined();
  });

  it('refuses pairs out of order or cut short, saying so', () => {
    expect(() => ParentIds.fromPairs(pairs([[2, 1], [1, 2]]))).toThrow('legacy id 1 after 2 (not ascending)');
    expect(() => ParentIds.fromPairs(pairs([[1, 1], [1, 2]]))).toThrow('legacy id 1 after 1 (not ascending)');
    expect(() => ParentIds.fromPairs(Buffer.alloc(12))).toThrow('12 bytes is not a whole number of (legacy id, id) pairs');
  });

  it('answers as a Map of the same pairs would, for any ascending legacy ids', () => {
    const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(int, int), { selector: ([legacyId]) => legacyId, maxLength: 300 }), fc.array(int, { maxLength: 50 }), (list, probes) => {
        const sorted = [...list].sort((a, b) => a[0] - b[0]);
        const map = new Map(sorted);
        const lookup = ParentIds.fromPairs(pairs(sorted));
        for (const id of [...sorted.map(([legacyId]) => legacyId), ...probes]) expect(lookup.get(id)).toBe(map.get(id));
      }),
      { numRuns: 300 },
    );
  });

  it('is shared with a thread it is sent to, not copied', async () => {
    const sent = ParentIds.fromPairs(pairs([[1, 10]]));
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       workerData.ids[0] = 99;
       parentPort.postMessage(workerData.legacyIds.buffer instanceof SharedArrayBuffer);`,
      { eval: true, workerData: sent },
    );
    const shared = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    expect(shared).toBe(true);
    // What the thread wrote is what this thread reads.
    expect(sent.get(1)).toBe(99);
  });
});
