import path from 'node:path';
import { loadSyncConfig, parseSyncConfig } from '../../src/config/tables';
import { ConfigError } from '../../src/config/env';

/**
 * The table configuration is where SQL identifiers come from: anything that is not a plain
 * identifier, or names a table or column the contract does not have, is refused with where
 * and what, before any connection is opened.
 */

const shipped = path.resolve(__dirname, '../../config/tables.json');
const base = () => ({
  tables: [
    { legacyTable: 'clients', newTable: 'customers', directions: ['legacy-to-new'] },
    { legacyTable: 'drivers', newTable: 'drivers', directions: ['legacy-to-new'] },
    { legacyTable: 'deliveries', newTable: 'orders', directions: ['legacy-to-new', 'new-to-legacy'] },
  ] as Record<string, unknown>[],
});
const refusal = (change: (c: ReturnType<typeof base>) => void): string => {
  const c = base();
  change(c);
  try {
    parseSyncConfig(c, 'test.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('table configuration', () => {
  it('the shipped configuration is valid, with defaults filled in', () => {
    const config = loadSyncConfig(shipped);
    expect(config.tables.map((t) => t.legacyTable)).toEqual(['clients', 'drivers', 'deliveries']);
    expect(parseSyncConfig(base()).tables[0]).toMatchObject({ changeDetection: 'timestamp', batchSize: 1000, conflictResolution: 'newest_wins' });
  });

  it.each([
    ['a quote', 'clients"'],
    ['a statement', 'clients; DROP TABLE customers'],
    ['upper case', 'Clients'],
    ['a dot', 'main.clients'],
    ['empty', ''],
  ])('refuses a table name with %s', (_what, name) => {
    expect(refusal((c) => (c.tables[0].legacyTable = name))).toMatch(/test\.json: tables\.0\.legacyTable: must be a plain lower-case SQL identifier/);
  });

  it('refuses a column name that is not a plain identifier', () => {
    expect(refusal((c) => (c.tables[0].textColumns = { 'notes) --': 'auto' }))).toMatch(/textColumns.*must be a plain lower-case SQL identifier/);
  });

  it('refuses a table the contract does not have, naming the known ones', () => {
    expect(refusal((c) => (c.tables[0].legacyTable = 'clientz'))).toMatch(/tables\[0\] \(clientz\): unknown legacy table 'clientz' \(known: clients, drivers, deliveries\)/);
  });

  it('refuses a new table other than the mapping', () => {
    expect(refusal((c) => (c.tables[0].newTable = 'clients'))).toMatch(/legacy table clients maps to customers, not 'clients'/);
  });

  it('refuses a text column the table does not have', () => {
    expect(refusal((c) => (c.tables[2].textColumns = { remarks: 'cp950' }))).toMatch(/textColumns names 'remarks', which is not a text column of deliveries/);
  });

  it('refuses a merge rule for a column the new table does not have', () => {
    expect(refusal((c) => (c.tables[2].mergeRules = { remark: 'prefer_new' }))).toMatch(/mergeRules names 'remark', which is not a column of orders/);
  });

  it('refuses an unknown setting, a table twice, write-back of a table other than deliveries, a child without its parent', () => {
    expect(refusal((c) => (c.tables[0].batchsize = 10))).toMatch(/Unrecognized key.*batchsize/);
    expect(refusal((c) => c.tables.push({ ...c.tables[1] }))).toMatch(/\(drivers\): listed twice/);
    expect(refusal((c) => (c.tables[0].directions = ['new-to-legacy']))).toMatch(/only deliveries can be written back/);
    expect(refusal((c) => c.tables.splice(0, 1))).toMatch(/\(deliveries\): needs its parent table clients/);
  });

  it('names the file that cannot be read or parsed', () => {
    expect(() => loadSyncConfig('/nonexistent/tables.json')).toThrow(/cannot read the table configuration \/nonexistent\/tables\.json/);
  });
});
