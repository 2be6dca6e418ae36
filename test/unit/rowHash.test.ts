import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { columnsHasher, contentHash, type RawRow } from '../../src/capture/rawRow';

/**
 * A legacy row's content hash (stored in every row state, so it must never change): SHA-1 of
 * `\x01<name>\x00` then `N`, `V<decimal>` or `B<bytes>` per column, updated_at aside. The
 * hasher made for a page's columns gives the very same hash as contentHash for any row whose
 * columns come in that order.
 */

const sha1 = (message: Buffer) => createHash('sha1').update(message).digest('hex');
const NAMES = ['client_id', 'driver_id', 'delivery_date', 'status', 'notes', 'created_at', 'updated_at'];

describe('row hash', () => {
  const row: RawRow = {
    id: 7,
    cols: {
      client_id: 42,
      driver_id: null,
      delivery_date: Buffer.from('2024-03-15', 'latin1'),
      status: Buffer.from([0xa4, 0x77, 0xb0, 0x65, 0xb9, 0x46]), // 已送達 in CP950
      notes: Buffer.alloc(0),
      created_at: Buffer.from('2024-03-15 09:00:00', 'latin1'),
      updated_at: Buffer.from('2024-03-16 10:00:00', 'latin1'),
    },
  };
  // Written out by hand from the format above.
  const message = Buffer.concat([
    Buffer.from('\x01client_id\x00V42\x01driver_id\x00N\x01delivery_date\x00B2024-03-15\x01status\x00B', 'latin1'),
    Buffer.from([0xa4, 0x77, 0xb0, 0x65, 0xb9, 0x46]),
    Buffer.from('\x01notes\x00B\x01created_at\x00B2024-03-15 09:00:00', 'latin1'),
  ]);

  it('is SHA-1 of the message the format describes, updated_at aside', () => {
    expect(contentHash(row)).toBe(sha1(message));
    expect(contentHash({ ...row, cols: { ...row.cols, updated_at: Buffer.from('2025-01-01 00:00:00') } })).toBe(sha1(message));
  });

  it('is the same from the hasher made for the columns', () => {
    expect(columnsHasher(NAMES)(row)).toBe(sha1(message));
  });

  it('is the same from the hasher made for the columns, for values of every kind a row may hold', () => {
    const value = fc.oneof(
      fc.constant(null),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: -1_000_000, max: -1 }),
      fc.double({ noNaN: true }),
      fc.bigInt(),
      fc.string(),
      fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
      // Longer than the message buffer holds at first (4 KB): contentHash grows it.
      fc.integer({ min: 4000, max: 9000 }).map((n) => Buffer.alloc(n, 0xa4)),
    );
    const hasher = columnsHasher(NAMES);
    fc.assert(
      fc.property(fc.tuple(...NAMES.map(() => value)), (values) => {
        const r: RawRow = { id: 1, cols: Object.fromEntries(NAMES.map((n, i) => [n, values[i]])) };
        expect(hasher(r)).toBe(contentHash(r));
      }),
      { numRuns: 2000 },
    );
  });
});
