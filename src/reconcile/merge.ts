import { sameValue as same } from '../convert/canonical';
import type { NewValues } from '../convert/tables';

/**
 * The three-way merge of one row, column by column (pure). Each side's changes are what
 * differs from what the sync last saw on that side: `legacyBase` for legacy, `base` for the
 * new system (the two differ only while legacy has not yet received a merge's result). A
 * column changed on one side only takes that side's value, with no conflict; a column both
 * sides changed to the same value takes it; only a column both sides changed differently is
 * a conflict, which the column's rule (or else the table's) resolves. `updated_at` is not
 * merged: the result is as new as the side whose content it equals, or the newer side.
 */

export type Side = 'legacy' | 'new';
export const TABLE_RULES = ['newest_wins', 'legacy_wins', 'new_wins', 'merge_fields', 'manual'] as const;
export type TableRule = (typeof TABLE_RULES)[number];
export const COLUMN_RULES = ['prefer_legacy', 'prefer_new', 'combine', 'delta', 'manual'] as const;
export type ColumnRule = (typeof COLUMN_RULES)[number];

export interface MergeRules {
  rule: TableRule;
  /** Per new column; a column without one follows the table's rule (merge_fields: the newer side). */
  columns: Partial<Record<string, ColumnRule>>;
  /** Which side an equal updated_at favours. */
  tieBreaker: Side;
}

export interface MergeImages {
  base: NewValues;
  /** Legacy's last-seen image when legacy does not hold `base`; else `base`. */
  legacyBase: NewValues;
  legacy: NewValues;
  new: NewValues;
}

export interface ColumnConflict {
  column: string;
  base: unknown;
  legacy: unknown;
  new: unknown;
  /** The resolved value; null for a column left to manual review. */
  result: unknown;
  rule: TableRule | ColumnRule;
}

export interface Merged {
  values: NewValues;
  legacyChanged: string[];
  newChanged: string[];
  conflicts: ColumnConflict[];
  /** Conflicting columns whose rule is manual: the row waits for review, `values` is not to be written. */
  manual: string[];
  /** The result's content equals legacy's (legacy needs no write) / the new row's (PostgreSQL needs none). */
  sameAsLegacy: boolean;
  sameAsNew: boolean;
}

/** Column name → SQL type of the columns merged (the row's content: not updated_at). */
export type MergeColumns = Record<string, string>;

const instant = (v: unknown) => (v === null || v === undefined ? NaN : new Date(String(v)).getTime());

/** Which side is newer by updated_at (UTC instants); the tie breaker decides equal ones. */
export function newerSide(legacy: NewValues, current: NewValues, tieBreaker: Side): Side {
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

const asNumber = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null);

/**
 * Both sides' changes applied to the new side's value: new + (legacy − legacy's base). Not a
 * number on every side (a NULL amount): the newer side's value instead.
 */
function delta(images: MergeImages, column: string, newer: Side): unknown {
  const n = asNumber(images.new[column]);
  const l = asNumber(images.legacy[column]);
  const b = asNumber(images.legacyBase[column]);
  if (n === null || l === null || b === null) return newer === 'legacy' ? images.legacy[column] : images.new[column];
  return n + (l - b);
}

function resolve(rule: TableRule | ColumnRule, images: MergeImages, column: string, newer: Side): unknown {
  switch (rule) {
    case 'legacy_wins':
    case 'prefer_legacy':
      return images.legacy[column];
    case 'new_wins':
    case 'prefer_new':
      return images.new[column];
    case 'combine':
      return combine(images.new[column], images.legacy[column]);
    case 'delta':
      return delta(images, column, newer);
    case 'manual':
      return null;
    case 'newest_wins':
    case 'merge_fields':
      return newer === 'legacy' ? images.legacy[column] : images.new[column];
  }
}

export function mergeRow(columns: MergeColumns, images: MergeImages, rules: MergeRules): Merged {
  const values: NewValues = {};
  const out: Merged = { values, legacyChanged: [], newChanged: [], conflicts: [], manual: [], sameAsLegacy: true, sameAsNew: true };
  const newer = newerSide(images.legacy, images.new, rules.tieBreaker);
  for (const [column, type] of Object.entries(columns)) {
    const legacyChanged = !same(type, images.legacy[column], images.legacyBase[column]);
    const newChanged = !same(type, images.new[column], images.base[column]);
    if (legacyChanged) out.legacyChanged.push(column);
    if (newChanged) out.newChanged.push(column);
    let v: unknown;
    if (legacyChanged && newChanged && !same(type, images.legacy[column], images.new[column])) {
      const rule = rules.columns[column] ?? rules.rule;
      v = resolve(rule, images, column, newer);
      out.conflicts.push({ column, base: images.base[column] ?? null, legacy: images.legacy[column] ?? null, new: images.new[column] ?? null, result: rule === 'manual' ? null : (v ?? null), rule });
      if (rule === 'manual') {
        out.manual.push(column);
        v = images.new[column];
      }
    } else if (legacyChanged) {
      v = images.legacy[column];
    } else if (newChanged) {
      v = images.new[column];
    } else {
      // Neither side changed it since the sync last saw them: what the sync decided, which the new side holds.
      v = images.new[column];
    }
    values[column] = (v ?? null) as NewValues[string];
    if (!same(type, v, images.legacy[column])) out.sameAsLegacy = false;
    if (!same(type, v, images.new[column])) out.sameAsNew = false;
  }
  values.updated_at = out.sameAsLegacy ? images.legacy.updated_at : out.sameAsNew ? images.new.updated_at : newer === 'legacy' ? images.legacy.updated_at : images.new.updated_at;
  // Content as legacy has it, but a newer or older updated_at than the new row's: a touch to carry over.
  if (out.sameAsLegacy && !same('timestamptz', values.updated_at, images.new.updated_at)) out.sameAsNew = false;
  return out;
}
