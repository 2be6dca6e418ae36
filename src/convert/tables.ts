import {
  extractPhone,
  optionalText,
  legacyTimestampIso,
  NULLABLE,
  parseLegacyDate,
  RuleError,
  splitFamiliarAreas,
  mapStatus,
  toBoolean,
  toInteger,
  trimLegacy,
} from './rules';

/**
 * The three synced tables as the contract maps them: which legacy columns are read (and as
 * what), which new columns are written (and their PostgreSQL types, for set-based SQL), and
 * the row mapping. SQL identifiers in the sync come from here and the validated config only.
 */

export type LegacyTableName = 'clients' | 'drivers' | 'deliveries';
export type NewTableName = 'customers' | 'drivers' | 'orders';

/** A legacy row after text decoding: text columns are strings (or null), others as stored. */
export type DecodedRow = Record<string, string | number | bigint | null>;

/** Values for the new table's columns, JSON-safe (timestamps as ISO strings). */
export type NewValues = Record<string, string | number | boolean | string[] | null>;

export interface ParentRef {
  /** Legacy column holding the parent's legacy id. */
  column: string;
  legacyTable: LegacyTableName;
  newTable: NewTableName;
  /** New column that receives the parent's new id. */
  newColumn: string;
  required: boolean;
}

export interface TableMapping {
  legacyTable: LegacyTableName;
  newTable: NewTableName;
  /** Legacy columns read besides `id`; text columns are read as raw bytes. */
  legacyColumns: { name: string; kind: 'text' | 'integer' }[];
  /** New columns written (besides legacy_id and the parent id columns), with their SQL types. */
  newColumns: Record<string, string>;
  /** Unique business key in the new table, other than legacy_id (a collision is held back). */
  naturalKey: string;
  parents: ParentRef[];
  map(row: DecodedRow): NewValues;
}

/** The new table's columns the sync writes: legacy_id, the mapped columns, the parents' ids. */
export function writtenColumns(mapping: TableMapping): string[] {
  return ['legacy_id', ...Object.keys(mapping.newColumns), ...mapping.parents.map((p) => p.newColumn)];
}

/**
 * Per mapping, a function that makes a record of its legacy columns (a raw row's, a decoded
 * row's) from their values in legacyColumns' order. Generated from the mapping's column names
 * (code, not configuration): an object literal has one fixed shape, several times cheaper to
 * make than an object filled key by key, each key of which changes its shape.
 */
const columnRecords = new WeakMap<TableMapping, (values: readonly unknown[]) => Record<string, unknown>>();
export function columnRecord<V>(mapping: TableMapping): (values: readonly V[]) => Record<string, V> {
  let make = columnRecords.get(mapping);
  if (!make) {
    const fields = mapping.legacyColumns.map((c, i) => `${JSON.stringify(c.name)}: v[${i}]`);
    make = new Function('v', `return { ${fields.join(', ')} };`) as (values: readonly unknown[]) => Record<string, unknown>;
    columnRecords.set(mapping, make);
  }
  return make as (values: readonly V[]) => Record<string, V>;
}

/** Where a mapping's integer and text columns are among its legacyColumns, worked out once per mapping. */
const places = new WeakMap<TableMapping, { ints: number[]; texts: number[] }>();
export function columnPlaces(mapping: TableMapping): { ints: number[]; texts: number[] } {
  let p = places.get(mapping);
  if (!p) {
    const of = (kind: 'integer' | 'text') => mapping.legacyColumns.flatMap((c, i) => (c.kind === kind ? [i] : []));
    places.set(mapping, (p = { ints: of('integer'), texts: of('text') }));
  }
  return p;
}

/** Per mapping, the inverse of columnRecord: a record's values in legacyColumns' order (a new array; a missing one as null). */
const columnReaders = new WeakMap<TableMapping, (record: Record<string, unknown>) => unknown[]>();
export function columnValues<V>(mapping: TableMapping): (record: Record<string, V>) => (V | null)[] {
  let read = columnReaders.get(mapping);
  if (!read) {
    const values = mapping.legacyColumns.map((c) => `r[${JSON.stringify(c.name)}] ?? null`);
    read = new Function('r', `return [${values.join(', ')}];`) as (record: Record<string, unknown>) => unknown[];
    columnReaders.set(mapping, read);
  }
  return read as (record: Record<string, V>) => (V | null)[];
}

const text = (row: DecodedRow, col: string): string | null => {
  const v = row[col];
  return v === null || v === undefined ? null : String(v);
};

const required = (row: DecodedRow, col: string): string => {
  const v = optionalText(text(row, col));
  if (v === null) throw new RuleError(`${col} is empty`);
  return v;
};

/**
 * Rule 4 for created_at and updated_at, both required, into the mapped values, which have both
 * already (as ''): set in place, after the other columns' rules, rather than spread from an
 * object of their own (a spread copies key by key).
 */
const withTimestamps = <T extends { created_at: string; updated_at: string }>(row: DecodedRow, values: T): T => {
  const created = text(row, 'created_at');
  const updated = text(row, 'updated_at');
  if (created === null) throw new RuleError('created_at is NULL');
  if (updated === null) throw new RuleError('updated_at is NULL');
  values.created_at = legacyTimestampIso(created, 'created_at');
  values.updated_at = legacyTimestampIso(updated, 'updated_at');
  return values;
};

const TIMESTAMPS = { created_at: 'timestamptz', updated_at: 'timestamptz' };

export const clients: TableMapping = {
  legacyTable: 'clients',
  newTable: 'customers',
  legacyColumns: [
    { name: 'client_code', kind: 'text' },
    { name: 'invoice_title', kind: 'text' },
    { name: 'short_name', kind: 'text' },
    { name: 'address', kind: 'text' },
    { name: 'contact_person', kind: 'text' },
    { name: 'notes', kind: 'text' },
    { name: 'district', kind: 'text' },
    { name: 'is_active', kind: 'integer' },
    { name: 'created_at', kind: 'text' },
    { name: 'updated_at', kind: 'text' },
  ],
  newColumns: {
    customer_code: 'text',
    name: 'text',
    short_name: 'text',
    address: 'text',
    phone: 'text',
    contact_person: 'text',
    notes: 'text',
    district: 'text',
    is_active: 'boolean',
    ...TIMESTAMPS,
  },
  naturalKey: 'customer_code',
  parents: [],
  map(row) {
    const shortName = optionalText(text(row, 'short_name'));
    const name = optionalText(text(row, 'invoice_title')) ?? shortName;
    if (name === null) throw new RuleError('invoice_title and short_name are both empty (name is required)');
    const contact = text(row, 'contact_person');
    return withTimestamps(row, {
      customer_code: required(row, 'client_code'),
      name,
      short_name: shortName,
      address: optionalText(text(row, 'address')),
      phone: extractPhone(contact),
      contact_person: optionalText(contact),
      notes: optionalText(text(row, 'notes')),
      district: optionalText(text(row, 'district')),
      is_active: toBoolean(row.is_active, 'is_active'),
      created_at: '',
      updated_at: '',
    });
  },
};

export const drivers: TableMapping = {
  legacyTable: 'drivers',
  newTable: 'drivers',
  legacyColumns: [
    { name: 'employee_no', kind: 'text' },
    { name: 'name', kind: 'text' },
    { name: 'phone', kind: 'text' },
    { name: 'familiar_areas', kind: 'text' },
    { name: 'is_active', kind: 'integer' },
    { name: 'created_at', kind: 'text' },
    { name: 'updated_at', kind: 'text' },
  ],
  newColumns: {
    employee_no: 'text',
    name: 'text',
    phone: 'text',
    familiar_areas: 'text[]',
    is_active: 'boolean',
    ...TIMESTAMPS,
  },
  naturalKey: 'employee_no',
  parents: [],
  map(row) {
    return withTimestamps(row, {
      employee_no: required(row, 'employee_no'),
      name: required(row, 'name'),
      phone: extractPhone(text(row, 'phone')),
      familiar_areas: splitFamiliarAreas(text(row, 'familiar_areas')),
      is_active: toBoolean(row.is_active, 'is_active'),
      created_at: '',
      updated_at: '',
    });
  },
};

export const deliveries: TableMapping = {
  legacyTable: 'deliveries',
  newTable: 'orders',
  legacyColumns: [
    { name: 'client_id', kind: 'integer' },
    { name: 'driver_id', kind: 'integer' },
    { name: 'delivery_date', kind: 'text' },
    { name: 'cylinder_50kg', kind: 'integer' },
    { name: 'cylinder_20kg', kind: 'integer' },
    { name: 'cylinder_16kg', kind: 'integer' },
    { name: 'cylinder_10kg', kind: 'integer' },
    { name: 'cylinder_4kg', kind: 'integer' },
    { name: 'status', kind: 'text' },
    { name: 'amount', kind: 'integer' },
    { name: 'notes', kind: 'text' },
    { name: 'created_at', kind: 'text' },
    { name: 'updated_at', kind: 'text' },
  ],
  newColumns: {
    delivery_date: 'date',
    qty_50kg: 'integer',
    qty_20kg: 'integer',
    qty_16kg: 'integer',
    qty_10kg: 'integer',
    qty_4kg: 'integer',
    status: 'order_status',
    amount: 'integer',
    notes: 'text',
    ...TIMESTAMPS,
  },
  naturalKey: '',
  parents: [
    { column: 'client_id', legacyTable: 'clients', newTable: 'customers', newColumn: 'customer_id', required: true },
    { column: 'driver_id', legacyTable: 'drivers', newTable: 'drivers', newColumn: 'driver_id', required: false },
  ],
  map(row) {
    const status = text(row, 'status');
    const date = text(row, 'delivery_date');
    if (status === null) throw new RuleError('status is NULL');
    if (date === null) throw new RuleError('delivery_date is NULL');
    toInteger(row.client_id, 'client_id');
    toInteger(row.driver_id, 'driver_id', NULLABLE);
    return withTimestamps(row, {
      delivery_date: parseLegacyDate(date, 'delivery_date'),
      qty_50kg: toInteger(row.cylinder_50kg, 'cylinder_50kg'),
      qty_20kg: toInteger(row.cylinder_20kg, 'cylinder_20kg'),
      qty_16kg: toInteger(row.cylinder_16kg, 'cylinder_16kg'),
      qty_10kg: toInteger(row.cylinder_10kg, 'cylinder_10kg'),
      qty_4kg: toInteger(row.cylinder_4kg, 'cylinder_4kg'),
      status: mapStatus(trimLegacy(status)),
      amount: toInteger(row.amount, 'amount', NULLABLE),
      notes: optionalText(text(row, 'notes')),
      created_at: '',
      updated_at: '',
    });
  },
};

export const TABLE_MAPPINGS: Record<LegacyTableName, TableMapping> = { clients, drivers, deliveries };
