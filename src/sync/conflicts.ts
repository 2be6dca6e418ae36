import type { NewValues } from '../mapping/tables';

/**
 * Conflict resolution for a row changed on both sides since its last sync, as the original
 * design names the rules. Timestamps are compared as UTC instants (the legacy side's
 * Asia/Taipei times are converted before they get here); a tie is broken the same way
 * every time, by the configured side.
 */

export type Resolution = 'newest_wins' | 'legacy_wins' | 'new_wins' | 'merge_fields';
export type FieldRule = 'prefer_legacy' | 'prefer_new' | 'combine';

export interface ResolveOptions {
  rule: Resolution;
  mergeRules: Record<string, FieldRule>;
  tieBreaker: 'legacy' | 'new';
}

export interface Resolved {
  outcome: 'legacy' | 'new' | 'merged';
  values: NewValues;
}

const instant = (v: unknown) => (typeof v === 'string' || v instanceof Date ? new Date(v).getTime() : NaN);

/** Which side is newer by updated_at; the tie breaker decides equal instants. */
export function newerSide(legacy: NewValues, current: NewValues, tieBreaker: 'legacy' | 'new'): 'legacy' | 'new' {
  const l = instant(legacy.updated_at);
  const n = instant(current.updated_at);
  if (l === n || (Number.isNaN(l) && Number.isNaN(n))) return tieBreaker;
  if (Number.isNaN(n)) return 'legacy';
  if (Number.isNaN(l)) return 'new';
  return l > n ? 'legacy' : 'new';
}

/** `new + "\n---\n" + legacy`, as the design combines text; an empty side adds nothing. */
export function combine(newValue: unknown, legacyValue: unknown): string | null {
  const n = newValue === null || newValue === undefined ? '' : String(newValue);
  const l = legacyValue === null || legacyValue === undefined ? '' : String(legacyValue);
  if (n === l) return n === '' ? null : n;
  if (n === '') return l;
  if (l === '') return n;
  return `${n}\n---\n${l}`;
}

export function resolveConflict(legacy: NewValues, current: NewValues, opts: ResolveOptions): Resolved {
  switch (opts.rule) {
    case 'legacy_wins':
      return { outcome: 'legacy', values: legacy };
    case 'new_wins':
      return { outcome: 'new', values: current };
    case 'newest_wins': {
      const side = newerSide(legacy, current, opts.tieBreaker);
      return { outcome: side, values: side === 'legacy' ? legacy : current };
    }
    case 'merge_fields': {
      const newer = newerSide(legacy, current, opts.tieBreaker) === 'legacy' ? legacy : current;
      const values: NewValues = {};
      for (const col of Object.keys(legacy)) {
        const rule = opts.mergeRules[col];
        if (rule === 'prefer_legacy') values[col] = legacy[col];
        else if (rule === 'prefer_new') values[col] = current[col] ?? null;
        else if (rule === 'combine') values[col] = combine(current[col], legacy[col]);
        else values[col] = newer[col] ?? null;
      }
      // The merged row is a change of its own, as new as the newest side.
      values.updated_at = instant(legacy.updated_at) >= instant(current.updated_at) ? legacy.updated_at : current.updated_at;
      return { outcome: 'merged', values };
    }
  }
}
