import fc from 'fast-check';
import { BinaryCopy, daysFromCivil } from '../../src/apply/copyBinary';

describe('binary COPY data', () => {
  it('counts days from 1970-01-01 as the calendar does', () => {
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(daysFromCivil(1969, 12, 31)).toBe(-1);
    // PostgreSQL's epoch, 2000-01-01, is 10,957 days after 1970's.
    expect(daysFromCivil(2000, 1, 1)).toBe(10_957);
    expect(daysFromCivil(2000, 3, 1) - daysFromCivil(2000, 2, 28)).toBe(2); // 2000 is a leap year
    expect(daysFromCivil(1900, 3, 1) - daysFromCivil(1900, 2, 28)).toBe(1); // 1900 is not
    expect(daysFromCivil(2024, 2, 30)).toBe(daysFromCivil(2024, 3, 1)); // past the month's end: runs on
  });

  it('agrees with Date.UTC on every day of the years the legacy rows have', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1001, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), (y, m, d) => {
        expect(daysFromCivil(y, m, d)).toBe(Date.UTC(y, m - 1, d) / 86_400_000);
      }),
      { numRuns: 2000 },
    );
  });

  /** The first value of the one tuple in the data: after the header (19 bytes), the field count (2) and the value's length (4). */
  const firstValue = (data: Buffer, bytes: number) => {
    expect(data.readInt32BE(21)).toBe(bytes);
    return data.subarray(25, 25 + bytes);
  };
  const one = (type: 'timestamptz' | 'date', v: string) => {
    const copy = new BinaryCopy(64);
    copy.tuple(1);
    copy.value(type, v);
    return copy.finish();
  };

  it('writes an instant as microseconds since 2000-01-01 UTC', () => {
    expect(firstValue(one('timestamptz', '2000-01-01T00:00:00.000Z'), 8).readBigInt64BE()).toBe(0n);
    expect(firstValue(one('timestamptz', '1999-12-31T23:59:59.999Z'), 8).readBigInt64BE()).toBe(-1000n);
    expect(firstValue(one('timestamptz', '2024-01-15T01:30:00.000Z'), 8).readBigInt64BE()).toBe(758_597_400_000_000n);
    fc.assert(
      fc.property(fc.date({ min: new Date('1001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
        const us = firstValue(one('timestamptz', date.toISOString()), 8).readBigInt64BE();
        expect(us).toBe(BigInt(date.getTime() - Date.UTC(2000, 0, 1)) * 1000n);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a date as days since 2000-01-01', () => {
    expect(firstValue(one('date', '2000-01-01'), 4).readInt32BE()).toBe(0);
    expect(firstValue(one('date', '1999-12-31'), 4).readInt32BE()).toBe(-1);
    expect(firstValue(one('date', '2024-02-29'), 4).readInt32BE()).toBe(8825);
  });
});
