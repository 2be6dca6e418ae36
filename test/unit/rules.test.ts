/**
 * The contract's value rules, legacy → new (shared/contract/new-system.md, "Rules, legacy to
 * new"; timestamp formats from legacy-schema.sql), as implemented in src/mapping/rules.ts.
 */
import fc from 'fast-check';
import {
  RuleError,
  STATUS_TO_LEGACY,
  STATUS_TO_NEW,
  extractPhone,
  formatLegacyTimestamp,
  legacyTimestampIso,
  mapStatus,
  optionalText,
  parseLegacyDate,
  parseLegacyTimestamp,
  splitFamiliarAreas,
  toBoolean,
  toInteger,
  trimLegacy,
} from '../../src/convert/rules';

/** Runs fn, expects a RuleError, returns its message. */
function ruleError(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(RuleError);
  expect(thrown).toBeInstanceOf(Error);
  return (thrown as Error).message;
}

// ---------------------------------------------------------------------------------------------
describe('rule 1: trimLegacy / optionalText', () => {
  it.each([
    ['  王小明  ', '王小明'],
    ['\t王小明\t', '王小明'],
    ['\u3000\u3000王小明\u3000', '王小明'],
    [' \t\u3000 大安區 \u3000\t ', '大安區'],
    ['王 小明', '王 小明'], // inner space kept
    ['  王\u3000小明  ', '王\u3000小明'], // inner U+3000 kept
    ['a\t b', 'a\t b'],
    ['C000123', 'C000123'],
    ['', ''],
    ['   ', ''],
    ['\u3000\t ', ''],
  ])('trimLegacy(%j) = %j', (input, expected) => {
    expect(trimLegacy(input)).toBe(expected);
  });

  it('trims only ASCII spaces, tabs and U+3000 (not newlines, NBSP or other spaces)', () => {
    expect(trimLegacy('\n王\n')).toBe('\n王\n');
    expect(trimLegacy('\u00A0王\u00A0')).toBe('\u00A0王\u00A0');
    expect(trimLegacy('\u2003王 ')).toBe('\u2003王');
    expect(trimLegacy('\r\n王小明 \r\n')).toBe('\r\n王小明 \r\n');
  });

  it.each([
    [null, null],
    ['', null],
    ['   ', null],
    ['\t', null],
    ['\u3000\u3000', null],
    [' \u3000\t\u3000 ', null],
    ['  備註  ', '備註'],
    ['\u3000請按電鈴\u3000', '請按電鈴'],
    ['有 狗', '有 狗'],
    ['0', '0'],
  ])('optionalText(%j) = %j', (input, expected) => {
    expect(optionalText(input)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
describe('rule 3: phone', () => {
  // The contract's table, row for row.
  const CONTRACT_TABLE: Array<[string, string | null]> = [
    ['王先生 0912-345-678', '0912345678'],
    ['0912 345 678', '0912345678'],
    ['林小姐(02)2345-6789分機12', '0223456789'],
    ['陳太太 02-2345-6789 / 0933-111-222', '0223456789'],
    ['+886 912 345 678', '0912345678'],
    ['+886(0)2 2345 6789', '0223456789'],
    ['０９１２－３４５－６７８', '0912345678'],
    ['037-123456', '037123456'],
    ['電話：07-3456789', '073456789'],
    ['統編28123456', null],
    ['0912-345-6789', null],
  ];
  it.each(CONTRACT_TABLE)('contract example %j → %j', (input, expected) => {
    expect(extractPhone(input)).toBe(expected);
  });

  it.each<[string, string | null]>([
    // mobiles, every allowed separator
    ['0912345678', '0912345678'],
    ['0912.345.678', '0912345678'],
    ['0912-345678', '0912345678'],
    ['0912 345-678', '0912345678'],
    ['手機:0988-000-111。', '0988000111'],
    // land lines
    ['(02) 2345 6789', '0223456789'],
    ['(049)234-5678', '0492345678'],
    ['02 2345-6789', '0223456789'],
    ['0223456789', '0223456789'],
    ['049-2345678', '0492345678'],
    ['082-312345', '082312345'],
    ['04-2345-6789#12', '0423456789'],
    // +886 forms
    ['+886-2-2345-6789', '0223456789'],
    ['+886912345678', '0912345678'],
    ['+886-912-345-678', '0912345678'],
    ['傳真+886 / 手機+886 912 345 678', '0912345678'], // every +886 is replaced, not only the first
    // NFKC: full-width digits, plus, parentheses, spaces
    ['＋８８６　９１２　３４５　６７８', '0912345678'],
    ['（０２）２３４５－６７８９', '0223456789'],
    ['王先生\u3000０９１２３４５６７８', '0912345678'],
    // nothing that looks like a phone
    ['', null],
    ['王先生', null],
    ['12345678', null],
    ['01-2345-6789', null], // 01 is no area code
    ['09-1234-5678', null], // 09 is for mobiles only
    ['0912-34-5678', null],
    ['2024-01-01 08:00:00', null],
  ])('%j → %j', (input, expected) => {
    expect(extractPhone(input)).toBe(expected);
  });

  it('null stays null', () => {
    expect(extractPhone(null)).toBeNull();
  });

  it('two numbers: the leftmost wins, whatever its kind', () => {
    expect(extractPhone('0933-111-222 / 02-2345-6789')).toBe('0933111222');
    expect(extractPhone('02-2345-6789 / 0933-111-222')).toBe('0223456789');
    expect(extractPhone('陳 (03)345-6789 或 0912345678')).toBe('033456789');
    expect(extractPhone('市話 07-3456789 手機 +886 912 345 678')).toBe('073456789');
    // a first number too long to match does not hide a later valid one
    expect(extractPhone('0912-345-6789 / 0933-111-222')).toBe('0933111222');
  });

  it('digits glued to other digits are not a phone', () => {
    expect(extractPhone('10912345678')).toBeNull();
    expect(extractPhone('09123456789')).toBeNull();
    expect(extractPhone('統編 90223456789')).toBeNull();
    expect(extractPhone('0223456789012')).toBeNull();
    expect(extractPhone('A0912345678B')).toBe('0912345678'); // letters are not digits
    expect(extractPhone('No.10912345678')).toBeNull();
  });

  it('full-width digits count as digits for the boundaries too (NFKC first)', () => {
    expect(extractPhone('１0912345678')).toBeNull();
    expect(extractPhone('0912345678９')).toBeNull();
  });

  it('returns digits only', () => {
    for (const [input] of CONTRACT_TABLE) {
      const p = extractPhone(input);
      if (p !== null) expect(p).toMatch(/^0[0-9]{8,9}$/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('rule 4: legacy timestamps (Asia/Taipei, UTC+8) → UTC instants', () => {
  it.each<[string, string]>([
    ['2024-01-01 08:00:00', '2024-01-01T00:00:00.000Z'],
    ['2024-01-01 00:00:00', '2023-12-31T16:00:00.000Z'],
    ['2024-01-01 07:59:59', '2023-12-31T23:59:59.000Z'],
    ['2024-02-29 23:59:59', '2024-02-29T15:59:59.000Z'],
    ['2024-03-01 00:00:01', '2024-02-29T16:00:01.000Z'],
    ['2023-07-15 12:34:56', '2023-07-15T04:34:56.000Z'],
    ['1999-12-31 23:59:59', '1999-12-31T15:59:59.000Z'],
    ['2000-02-29 08:00:00', '2000-02-29T00:00:00.000Z'],
  ])("'YYYY-MM-DD HH:MM:SS' %s → %s", (text, iso) => {
    expect(parseLegacyTimestamp(text, 'updated_at').toISOString()).toBe(iso);
  });

  it.each<[string, string]>([
    ['2014/3/5 上午 12:05:09', '2014-03-04T16:05:09.000Z'], // 上午 12:05 is 00:05
    ['2014/3/5 上午 12:00:00', '2014-03-04T16:00:00.000Z'],
    ['2014/3/5 上午 1:05:09', '2014-03-04T17:05:09.000Z'],
    ['2014/3/5 上午 8:00:00', '2014-03-05T00:00:00.000Z'],
    ['2014/3/5 上午 11:59:59', '2014-03-05T03:59:59.000Z'],
    ['2014/3/5 下午 12:05:09', '2014-03-05T04:05:09.000Z'], // 下午 12:05 is 12:05
    ['2014/3/5 下午 12:00:00', '2014-03-05T04:00:00.000Z'],
    ['2014/3/5 下午 1:05:09', '2014-03-05T05:05:09.000Z'], // 13:05:09
    ['2014/3/5 下午 11:59:59', '2014-03-05T15:59:59.000Z'], // 23:59:59
    ['2014/12/31 下午 11:59:59', '2014-12-31T15:59:59.000Z'],
    ['2008/10/10 下午 9:15:00', '2008-10-10T13:15:00.000Z'],
    ['2012/1/1 上午 7:30:00', '2011-12-31T23:30:00.000Z'],
    ['2012/02/29 上午 10:00:00', '2012-02-29T02:00:00.000Z'],
  ])("zh-TW format %s → %s", (text, iso) => {
    expect(parseLegacyTimestamp(text, 'created_at').toISOString()).toBe(iso);
  });

  it('上午 12:xx and 下午 12:xx are 12 hours apart, 上午 11 and 下午 1 two hours apart', () => {
    const am12 = parseLegacyTimestamp('2014/3/5 上午 12:30:00', 'created_at').getTime();
    const pm12 = parseLegacyTimestamp('2014/3/5 下午 12:30:00', 'created_at').getTime();
    expect(pm12 - am12).toBe(12 * 3600_000);
    const am11 = parseLegacyTimestamp('2014/3/5 上午 11:30:00', 'created_at').getTime();
    const pm1 = parseLegacyTimestamp('2014/3/5 下午 1:30:00', 'created_at').getTime();
    expect(pm1 - am11).toBe(2 * 3600_000);
  });

  it('both formats give the same instant for the same local time', () => {
    expect(parseLegacyTimestamp('2014/3/5 下午 1:05:09', 'created_at').getTime()).toBe(
      parseLegacyTimestamp('2014-03-05 13:05:09', 'created_at').getTime(),
    );
    expect(parseLegacyTimestamp('2014/3/5 上午 12:05:09', 'created_at').getTime()).toBe(
      parseLegacyTimestamp('2014-03-05 00:05:09', 'created_at').getTime(),
    );
  });

  it('padding from fixed-width screens is trimmed', () => {
    expect(parseLegacyTimestamp(' 2024-01-01 08:00:00\u3000', 'updated_at').toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(parseLegacyTimestamp('\u30002014/3/5 下午 1:05:09 ', 'created_at').toISOString()).toBe('2014-03-05T05:05:09.000Z');
  });

  it.each([
    '2024-02-30 10:00:00',
    '2023-02-29 10:00:00',
    '2024-04-31 00:00:00',
    '2024-13-01 00:00:00',
    '2024-00-10 00:00:00',
    '2024-01-00 00:00:00',
    '2024-01-01 24:00:00',
    '2024-01-01 23:60:00',
    '2024-01-01 23:59:60',
    '2014/2/30 上午 10:00:00',
    '2014/13/1 上午 10:00:00',
    '2014/3/5 上午 10:60:00',
  ])('impossible date or time %s is refused', (text) => {
    const msg = ruleError(() => parseLegacyTimestamp(text, 'created_at'));
    expect(msg).toContain(text);
    expect(msg).toContain('created_at'); // the held-back reason names the column
  });

  it.each([
    '',
    '   ',
    'garbage',
    'NULL',
    '2024-01-01',
    '2024-01-01T08:00:00',
    '2024-01-01T08:00:00Z',
    '2024-01-01 08:00',
    '2024-01-01 08:00:00.123',
    '2024-1-1 08:00:00',
    '2024/01/01 08:00:00',
    '24-01-01 08:00:00',
    '2014/3/5 12:05:09',
    '2014/3/5 AM 12:05:09',
    '2014/3/5 上午12:05:09',
    '2014/3/5 中午 12:05:09',
    '2014/3/5 上午 12:5:09',
    '1704067200',
  ])('unparseable %j is refused, naming the column', (text) => {
    const msg = ruleError(() => parseLegacyTimestamp(text, 'created_at'));
    expect(msg).toContain('created_at');
  });

  it.each(['2014/3/5 下午 13:05:09', '2014/3/5 上午 13:00:00', '2014/3/5 上午 0:05:09', '2014/3/5 下午 00:05:09', '2014/3/5 下午 24:00:00'])(
    'hour outside 1-12 in the 12-hour format is refused: %s',
    (text) => {
      const msg = ruleError(() => parseLegacyTimestamp(text, 'created_at'));
      expect(msg).toContain('created_at');
    },
  );

  it('formatLegacyTimestamp writes Asia/Taipei local time', () => {
    expect(formatLegacyTimestamp(new Date('2024-01-01T00:00:00.000Z'))).toBe('2024-01-01 08:00:00');
    expect(formatLegacyTimestamp(new Date('2023-12-31T16:00:00.000Z'))).toBe('2024-01-01 00:00:00');
    expect(formatLegacyTimestamp(new Date('2024-02-29T15:59:59.000Z'))).toBe('2024-02-29 23:59:59');
    expect(formatLegacyTimestamp(new Date('2024-06-30T20:05:09.000Z'))).toBe('2024-07-01 04:05:09');
    expect(formatLegacyTimestamp(new Date('2024-06-30T20:05:09.999Z'))).toBe('2024-07-01 04:05:09'); // one-second resolution
  });

  it.each(['2024-01-01 08:00:00', '2024-01-01 00:00:00', '2023-12-31 23:59:59', '2024-02-29 12:00:00', '2014-03-05 13:05:09', '1999-12-31 16:00:00'])(
    'format(parse(%s)) gives the text back',
    (text) => {
      expect(formatLegacyTimestamp(parseLegacyTimestamp(text, 'updated_at'))).toBe(text);
    },
  );

  it('parse(format(d)) gives the instant back, every 7919 s over two years', () => {
    const start = Date.UTC(2023, 0, 1);
    for (let t = start; t < start + 2 * 366 * 86400_000; t += 7919_000) {
      const d = new Date(t);
      expect(parseLegacyTimestamp(formatLegacyTimestamp(d), 'updated_at').getTime()).toBe(t);
    }
  });

  it('the zh-TW format formats back to the 24-hour form', () => {
    expect(formatLegacyTimestamp(parseLegacyTimestamp('2014/3/5 上午 12:05:09', 'created_at'))).toBe('2014-03-05 00:05:09');
    expect(formatLegacyTimestamp(parseLegacyTimestamp('2014/3/5 下午 12:05:09', 'created_at'))).toBe('2014-03-05 12:05:09');
    expect(formatLegacyTimestamp(parseLegacyTimestamp('2014/3/5 下午 1:05:09', 'created_at'))).toBe('2014-03-05 13:05:09');
  });
});

describe('legacyTimestampIso: the ISO text the new tables take, read digit by digit when it can be', () => {
  /** What it must give: parseLegacyTimestamp's instant as ISO text, or the same error. */
  const expected = (text: string): string => {
    try {
      return parseLegacyTimestamp(text, 'updated_at').toISOString();
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  };
  const actual = (text: string): string => {
    try {
      return legacyTimestampIso(text, 'updated_at');
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  };

  it('agrees with parseLegacyTimestamp on any digits in the common shape, impossible dates and times included', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), two(14), two(33), two(25), two(61), two(61), (y, mo, d, h, mi, s) => {
        const text = `${String(y).padStart(4, '0')}-${mo}-${d} ${h}:${mi}:${s}`;
        expect(actual(text)).toBe(expected(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with parseLegacyTimestamp on any numbers in the zh-TW shape, impossible ones included', () => {
    const n = (max: number) => fc.integer({ min: 0, max });
    fc.assert(
      fc.property(n(9999), n(14), n(33), fc.constantFrom('上午', '下午', '中午'), n(14), n(61), n(61), fc.boolean(), (y, mo, d, half, h, mi, s, padded) => {
        const p2 = (x: number) => (padded ? String(x).padStart(2, '0') : String(x));
        const text = `${String(y).padStart(4, '0')}/${p2(mo)}/${p2(d)} ${half} ${p2(h)}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
        expect(actual(text)).toBe(expected(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each(['2024-03-01 07:59:59', '2024-01-01 00:00:00', '2000-03-01 03:00:00', '1900-03-01 01:00:00', '1001-01-01 00:00:00', '1000-01-01 05:00:00', '2024-02-29 23:59:59', ' 2024-01-01 00:00:00', '2024-01-01T00:00:00', '2014/3/5 上午 12:05:09', '2014/3/1 上午 7:05:09', '2014/12/31 下午 11:59:59', '2014/3/5  上午 1:05:09', '2014/3/5 上午 1:5:09', '2014/3/5 上午 01:05:09 ', '２０２４-01-01 00:00:00'])(
    'agrees with parseLegacyTimestamp on %j (month, year and leap-day boundaries, other shapes)',
    (text) => {
      expect(actual(text)).toBe(expected(text));
    },
  );
});

describe('legacy dates (deliveries.delivery_date)', () => {
  it('agrees with the rule on any digits in the common shape', () => {
    const rule = (text: string) => {
      try {
        return parseLegacyDate(text, 'delivery_date');
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 33 }), (y, m, d) => {
        const text = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
        const last = new Date(0);
        last.setUTCFullYear(y, m, 0); // day 0 of the next month: the month's last day
        const valid = y >= 100 && m >= 1 && m <= 12 && d >= 1 && d <= last.getUTCDate();
        expect(rule(text)).toEqual(valid ? text : expect.stringMatching(/^error: impossible delivery_date/));
      }),
      { numRuns: 5_000 },
    );
  });

  it('accepts real dates and returns them as is', () => {
    expect(parseLegacyDate('2024-02-29', 'delivery_date')).toBe('2024-02-29');
    expect(parseLegacyDate(' 2024-12-31 ', 'delivery_date')).toBe('2024-12-31');
  });
  it.each(['2023-02-29', '2024-02-30', '2024-13-01', '2024/01/01', '2024-1-1', '', 'x'])('refuses %j', (text) => {
    ruleError(() => parseLegacyDate(text, 'delivery_date'));
  });
});

// ---------------------------------------------------------------------------------------------
describe('rule 5: familiar_areas', () => {
  it.each<[string | null, string[]]>([
    [null, []],
    ['', []],
    ['   \u3000 ', []],
    ['、,，/', []],
    ['大安區', ['大安區']],
    ['大安區、信義區', ['大安區', '信義區']],
    ['大安區,信義區', ['大安區', '信義區']],
    ['大安區，信義區', ['大安區', '信義區']],
    ['大安區/信義區', ['大安區', '信義區']],
    ['大安區 信義區', ['大安區', '信義區']],
    ['大安區\u3000信義區', ['大安區', '信義區']],
    ['大安區\t信義區', ['大安區', '信義區']],
    ['大安區、信義區,中山區，松山區/大同區 萬華區\u3000中正區\t士林區', ['大安區', '信義區', '中山區', '松山區', '大同區', '萬華區', '中正區', '士林區']],
    ['  大安區 、 信義區 ，，中山區  ', ['大安區', '信義區', '中山區']],
    ['、大安區、、信義區、', ['大安區', '信義區']],
    ['\u3000大安區\u3000\u3000信義區\u3000', ['大安區', '信義區']],
  ])('%j → %j', (input, expected) => {
    expect(splitFamiliarAreas(input)).toEqual(expected);
  });

  it('duplicates: the first occurrence is kept, in order', () => {
    expect(splitFamiliarAreas('信義區、大安區、信義區 大安區,中山區、大安區')).toEqual(['信義區', '大安區', '中山區']);
    expect(splitFamiliarAreas('大安區\u3000大安區 大安區/大安區')).toEqual(['大安區']);
    expect(splitFamiliarAreas('B、A、B、C、A')).toEqual(['B', 'A', 'C']);
  });
});

// ---------------------------------------------------------------------------------------------
describe('rule 6: status', () => {
  it.each([
    ['待配送', 'pending'],
    ['已派車', 'assigned'],
    ['已送達', 'delivered'],
    ['已取消', 'cancelled'],
  ])('%s → %s', (legacy, status) => {
    expect(mapStatus(legacy)).toBe(status);
    expect(mapStatus(` ${legacy}\u3000`)).toBe(status);
    expect(STATUS_TO_LEGACY[status as keyof typeof STATUS_TO_LEGACY]).toBe(legacy);
  });

  it('the two directions are inverse and cover the four statuses', () => {
    expect(Object.keys(STATUS_TO_NEW).sort()).toEqual(['已取消', '已派車', '已送達', '待配送'].sort());
    expect(Object.keys(STATUS_TO_LEGACY).sort()).toEqual(['assigned', 'cancelled', 'delivered', 'pending']);
  });

  it.each(['', '   ', '已完成', '待 配送', 'pending', 'PENDING', '已送達!', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])(
    'any other value (%j) is a RuleError',
    (text) => {
      const msg = ruleError(() => mapStatus(text));
      expect(msg).toContain('status');
    },
  );
});

// ---------------------------------------------------------------------------------------------
describe('rule 7: integers and booleans', () => {
  it.each<[unknown, number]>([
    [0, 0],
    [5, 5],
    [-3, -3],
    [2.0, 2],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    [7n, 7],
    [-12n, -12],
    ['42', 42],
    [' 42 ', 42],
    ['-7', -7],
    ['007', 7],
  ])('toInteger(%p) = %p', (input, expected) => {
    expect(toInteger(input, 'amount')).toBe(expected);
  });

  it('NULL: an error unless the column is nullable', () => {
    expect(ruleError(() => toInteger(null, 'qty_50kg'))).toContain('qty_50kg');
    expect(ruleError(() => toInteger(undefined, 'qty_50kg'))).toContain('qty_50kg');
    expect(toInteger(null, 'amount', { nullable: true })).toBeNull();
    expect(toInteger(undefined, 'amount', { nullable: true })).toBeNull();
    expect(toInteger(0, 'amount', { nullable: true })).toBe(0);
  });

  it.each<[unknown]>([[1.5], [NaN], [Infinity], ['abc'], [''], ['1.5'], ['1e3'], ['+5'], ['0x10'], [true], [{}], [[1]], [2n ** 60n], [Number.MAX_SAFE_INTEGER + 1]])(
    'toInteger(%p) is a RuleError naming the column',
    (input) => {
      expect(ruleError(() => toInteger(input, 'amount'))).toContain('amount');
    },
  );

  it.each<[unknown, boolean]>([
    [1, true],
    [0, false],
    [1n, true],
    [0n, false],
    ['1', true],
    ['0', false],
  ])('toBoolean(%p) = %p', (input, expected) => {
    expect(toBoolean(input, 'is_active')).toBe(expected);
  });

  it.each<[unknown]>([[2], [-1], ['2'], ['yes'], ['true'], [true], [null], [undefined], [0.5]])('toBoolean(%p) is a RuleError', (input) => {
    expect(ruleError(() => toBoolean(input, 'is_active'))).toContain('is_active');
  });
});
