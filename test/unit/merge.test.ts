import fc from 'fast-check';
import { COLUMN_RULES, mergeRow, TABLE_RULES, type ColumnRule, type MergeColumns, type MergeRules, type TableRule } from '../../src/reconcile/merge';
import type { NewValues } from '../../src/convert/tables';
import { canonicalValue, sameValue } from '../../src/convert/canonical';

/** The three-way merge, column by column: worked examples, then properties over random rows. */

const COLUMNS: MergeColumns = { status: 'order_status', notes: 'text', qty_20kg: 'integer', amount: 'integer', delivery_date: 'date' };
const rules = (rule: TableRule, columns: MergeRules['columns'] = {}, tieBreaker: 'legacy' | 'new' = 'legacy'): MergeRules => ({ rule, columns, tieBreaker });
const row = (v: Partial<NewValues>, updatedAt: string): NewValues => ({
  status: 'pending',
  notes: null,
  qty_20kg: 2,
  amount: 1500,
  delivery_date: '2031-05-06',
  ...v,
  updated_at: updatedAt,
});
const T0 = '2031-05-06T01:00:00.000Z';
const T1 = '2031-05-06T02:00:00.000Z';
const T2 = '2031-05-06T03:00:00.000Z';

describe('three-way merge: worked examples', () => {
  it('keeps a change made on one side only when the other side changed another column (the lost-update defect)', () => {
    const base = row({}, T0);
    const legacy = row({ status: 'delivered' }, T1); // the dispatcher closes the delivery in legacy
    const now = row({ notes: '請放門口' }, T2); // the office adds a note in the new system, later
    for (const rule of TABLE_RULES) {
      const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy, new: now }, rules(rule));
      expect({ rule, status: m.values.status, notes: m.values.notes, conflicts: m.conflicts }).toEqual({ rule, status: 'delivered', notes: '請放門口', conflicts: [] });
      expect(m.manual).toEqual([]);
      // Neither side holds the result: both are written.
      expect([m.sameAsLegacy, m.sameAsNew]).toEqual([false, false]);
      expect(m.values.updated_at).toBe(T2);
    }
  });

  it('resolves a column both sides changed by the table rule, and records base, legacy, new and result', () => {
    const base = row({ notes: 'base' }, T0);
    const legacy = row({ notes: 'legacy' }, T2);
    const now = row({ notes: 'new' }, T1);
    const cases: [TableRule, string][] = [
      ['newest_wins', 'legacy'], // legacy's updated_at is later
      ['legacy_wins', 'legacy'],
      ['new_wins', 'new'],
      ['merge_fields', 'legacy'], // no column rule: the newer side
    ];
    for (const [rule, expected] of cases) {
      const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy, new: now }, rules(rule));
      expect(m.values.notes).toBe(expected);
      expect(m.conflicts).toEqual([{ column: 'notes', base: 'base', legacy: 'legacy', new: 'new', result: expected, rule }]);
    }
  });

  it('breaks a tie of updated_at by the configured side', () => {
    const base = row({ notes: 'base' }, T0);
    const legacy = row({ notes: 'legacy' }, T1);
    const now = row({ notes: 'new' }, T1);
    expect(mergeRow(COLUMNS, { base, legacyBase: base, legacy, new: now }, rules('newest_wins', {}, 'legacy')).values.notes).toBe('legacy');
    expect(mergeRow(COLUMNS, { base, legacyBase: base, legacy, new: now }, rules('newest_wins', {}, 'new')).values.notes).toBe('new');
  });

  it('applies both sides\' changes to a quantity with delta: base 2, legacy 3, new 1 → 2', () => {
    const base = row({ qty_20kg: 2 }, T0);
    const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy: row({ qty_20kg: 3 }, T1), new: row({ qty_20kg: 1 }, T2) }, rules('newest_wins', { qty_20kg: 'delta' }));
    expect(m.values.qty_20kg).toBe(2);
    expect(m.conflicts).toEqual([{ column: 'qty_20kg', base: 2, legacy: 3, new: 1, result: 2, rule: 'delta' }]);
  });

  it('combines text both sides changed as new, a separator, then legacy', () => {
    const base = row({ notes: 'a' }, T0);
    const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy: row({ notes: '舊系統' }, T1), new: row({ notes: '新系統' }, T2) }, rules('newest_wins', { notes: 'combine' }));
    expect(m.values.notes).toBe('新系統\n---\n舊系統');
  });

  it('leaves a column whose rule is manual to review, and resolves the others', () => {
    const base = row({ notes: 'a', amount: 100 }, T0);
    const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy: row({ notes: 'b', amount: 200 }, T1), new: row({ notes: 'c', amount: 300 }, T2) }, rules('newest_wins', { amount: 'manual' }));
    expect(m.manual).toEqual(['amount']);
    expect(m.conflicts.find((c) => c.column === 'amount')).toEqual({ column: 'amount', base: 100, legacy: 200, new: 300, result: null, rule: 'manual' });
    expect(m.conflicts.find((c) => c.column === 'notes')?.result).toBe('c');
  });

  it('sees legacy\'s changes against its own last-seen image while legacy has not received a merge yet', () => {
    // The sync agreed on notes 'merged' (the base) but legacy still holds 'old'; legacy then changes the status only.
    const base = row({ notes: 'merged' }, T1);
    const legacyBase = row({ notes: 'old' }, T0);
    const legacy = row({ notes: 'old', status: 'assigned' }, T2);
    const m = mergeRow(COLUMNS, { base, legacyBase, legacy, new: base }, rules('legacy_wins'));
    expect({ notes: m.values.notes, status: m.values.status, conflicts: m.conflicts.length }).toEqual({ notes: 'merged', status: 'assigned', conflicts: 0 });
  });

  it('compares instants and dates as values, not as text', () => {
    const base = row({}, T0);
    const legacy = row({}, '2031-05-06T01:00:00Z');
    const now = row({}, '2031-05-06T09:00:00+08:00');
    const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy, new: now }, rules('newest_wins'));
    expect([m.sameAsLegacy, m.sameAsNew, m.conflicts]).toEqual([true, true, []]);
  });
});

describe('three-way merge: properties', () => {
  const value: Record<string, fc.Arbitrary<string | number | null>> = {
    status: fc.constantFrom('pending', 'assigned', 'delivered', 'cancelled'),
    notes: fc.option(fc.constantFrom('甲', '乙', '丙', 'x', ''), { nil: null }),
    qty_20kg: fc.integer({ min: 0, max: 9 }),
    amount: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }),
    delivery_date: fc.constantFrom('2031-01-01', '2031-01-02', '2031-01-03'),
  };
  const image = fc.record(value).map((v) => v as NewValues);
  /** A side: the base with some columns changed. */
  const side = (base: NewValues) => fc.record(value).chain((other) => fc.subarray(Object.keys(COLUMNS)).map((changed) => Object.fromEntries(Object.keys(COLUMNS).map((c) => [c, changed.includes(c) ? other[c] : base[c]])) as NewValues));
  const at = fc.integer({ min: 0, max: 3 }).map((h) => `2031-05-06T0${h}:00:00.000Z`);
  const rulesArb = fc.record({
    rule: fc.constantFrom(...TABLE_RULES.filter((r) => r !== 'manual')),
    columns: fc.dictionary(fc.constantFrom(...Object.keys(COLUMNS)), fc.constantFrom(...COLUMN_RULES.filter((r) => r !== 'manual')), { maxKeys: 3 }),
    tieBreaker: fc.constantFrom<'legacy' | 'new'>('legacy', 'new'),
  }) as fc.Arbitrary<MergeRules>;
  const triple = image.chain((b) => fc.tuple(fc.constant(b), side(b), side(b), at, at, at, rulesArb));

  it('never loses a change made on one side only, and resolves every conflict by its rule', () => {
    fc.assert(
      fc.property(triple, ([b, l, n, tb, tl, tn, r]) => {
        const base: NewValues = { ...b, updated_at: tb };
        const legacy: NewValues = { ...l, updated_at: tl };
        const now: NewValues = { ...n, updated_at: tn };
        const m = mergeRow(COLUMNS, { base, legacyBase: base, legacy, new: now }, r);
        const newer = tl === tn ? r.tieBreaker : tl > tn ? 'legacy' : 'new';
        for (const c of Object.keys(COLUMNS)) {
          const lChanged = legacy[c] !== base[c];
          const nChanged = now[c] !== base[c];
          if (lChanged && !nChanged) expect(m.values[c]).toEqual(legacy[c]);
          else if (nChanged && !lChanged) expect(m.values[c]).toEqual(now[c]);
          else if (!lChanged && !nChanged) expect(m.values[c]).toEqual(base[c]);
          else if (legacy[c] === now[c]) expect(m.values[c]).toEqual(legacy[c]);
          else {
            const rule: TableRule | ColumnRule = r.columns[c] ?? r.rule;
            const byRule: Record<string, unknown> = {
              legacy_wins: legacy[c],
              prefer_legacy: legacy[c],
              new_wins: now[c],
              prefer_new: now[c],
              newest_wins: newer === 'legacy' ? legacy[c] : now[c],
              merge_fields: newer === 'legacy' ? legacy[c] : now[c],
            };
            if (rule === 'combine') expect(m.values[c]).toEqual([now[c], legacy[c]].filter((x) => x !== null && x !== '').join('\n---\n') || null);
            else if (rule === 'delta' && typeof legacy[c] === 'number' && typeof now[c] === 'number' && typeof base[c] === 'number') {
              expect(m.values[c]).toBe((now[c] as number) + (legacy[c] as number) - (base[c] as number));
            } else if (rule !== 'delta') expect(m.values[c]).toEqual(byRule[rule]);
            expect(m.conflicts.map((x) => x.column)).toContain(c);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('changes nothing when merged again once both sides hold the result', () => {
    fc.assert(
      fc.property(triple, ([b, l, n, tb, tl, tn, r]) => {
        const m = mergeRow(COLUMNS, { base: { ...b, updated_at: tb }, legacyBase: { ...b, updated_at: tb }, legacy: { ...l, updated_at: tl }, new: { ...n, updated_at: tn } }, r);
        const again = mergeRow(COLUMNS, { base: m.values, legacyBase: m.values, legacy: m.values, new: m.values }, r);
        expect(again.values).toEqual(m.values);
        expect([again.conflicts, again.sameAsLegacy, again.sameAsNew]).toEqual([[], true, true]);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same result for the same inputs (the merge is a pure function)', () => {
    fc.assert(
      fc.property(triple, ([b, l, n, tb, tl, tn, r]) => {
        const images = { base: { ...b, updated_at: tb }, legacyBase: { ...b, updated_at: tb }, legacy: { ...l, updated_at: tl }, new: { ...n, updated_at: tn } };
        expect(mergeRow(COLUMNS, images, r)).toEqual(mergeRow(COLUMNS, structuredClone(images), r));
      }),
      { numRuns: 300 },
    );
  });
});

describe('same value of a column, in canonical form', () => {
  it.each([
    ['timestamptz', '2031-05-06T01:00:00.000Z', '2031-05-06T09:00:00+08:00', true],
    ['timestamptz', '2031-05-06T01:00:00.400Z', '2031-05-06T01:00:00Z', true],
    ['timestamptz', '2031-05-06T01:00:01Z', '2031-05-06T01:00:00Z', false],
    ['timestamptz', 'not a time', 'not a time', true],
    ['timestamptz', null, '2031-05-06T01:00:00Z', false],
    ['date', '2031-05-06', '2031-05-06T00:00:00', true],
    ['date', '2031-05-06', '2031-05-07', false],
    ['integer', '5', 5, true],
    ['integer', 5, 6, false],
    ['integer', 'five', 5, false],
    ['boolean', 't', true, true],
    ['boolean', 'f', true, false],
    ['text', '甲', '甲', true],
    ['text', '', null, false],
    ['text[]', ['a', null], ['a', null], true],
    ['text[]', ['a'], ['a', 'b'], false],
    ['text[]', ['a', null], ['a', 'NULL'], false],
  ])('%s: %j and %j → %s', (type, a, b, want) => {
    expect(sameValue(type, a, b)).toBe(want);
    expect(sameValue(type, b, a)).toBe(want);
  });
});

describe('an instant in canonical form', () => {
  // The definition: parsed as JavaScript parses it, truncated to the second, in UTC; what does not parse stays as written.
  const byDefinition = (s: string) => {
    const t = Date.parse(s);
    return Number.isNaN(t) ? s : new Date(Math.floor(t / 1000) * 1000).toISOString();
  };
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const written = fc
    .record({
      year: fc.integer({ min: 0, max: 9999 }),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.integer({ min: 0, max: 25 }),
      minute: fc.integer({ min: 0, max: 61 }),
      second: fc.integer({ min: 0, max: 61 }),
      fraction: fc.constantFrom('', '.4', '.123', '.999999', '.1234567'),
      separator: fc.constantFrom('T', ' '),
      offset: fc.constantFrom('Z', '+00:00', '+00', '-00:00', '+08:00', ''),
    })
    .map((p) => `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}${p.separator}${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}${p.fraction}${p.offset}`);

  it('is the instant JavaScript parses, to the second, for any way of writing one (days past a month\'s end and 24:00 included)', () => {
    fc.assert(
      fc.property(written, (s) => {
        expect(canonicalValue('timestamptz', s)).toBe(byDefinition(s));
      }),
      { numRuns: 20000 },
    );
  });

  it.each([
    ['2031-05-06T01:02:03.456789+00:00', '2031-05-06T01:02:03.000Z'],
    ['2028-02-29T23:59:59Z', '2028-02-29T23:59:59.000Z'],
    ['2031-02-29T00:00:00Z', '2031-03-01T00:00:00.000Z'],
    ['2031-04-31T00:00:00Z', '2031-05-01T00:00:00.000Z'],
    ['2100-02-29T00:00:00Z', '2100-03-01T00:00:00.000Z'],
    ['2000-02-29T12:00:00+00:00', '2000-02-29T12:00:00.000Z'],
    ['2031-05-06T24:00:00Z', '2031-05-07T00:00:00.000Z'],
    ['2031-05-06T09:00:00+08:00', '2031-05-06T01:00:00.000Z'],
    ['2031-05-06T01:00:60Z', '2031-05-06T01:00:60Z'],
  ])('%s → %s', (s, want) => {
    expect(canonicalValue('timestamptz', s)).toBe(want);
  });
});
