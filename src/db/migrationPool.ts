import pg from 'pg';

/**
 * A pg Pool for Prisma's Wasm schema engine (migrate deploy/diff without a native binary).
 * The engine cannot deserialise columns of type `name` (OID 19, prisma/orm#27403); they are
 * plain identifiers, so reporting them as `text` (OID 25) is exact.
 */
const NAME_OID = 19;
const TEXT_OID = 25;

function nameAsText<T>(result: T): T {
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const field of (r as pg.QueryResult | undefined)?.fields ?? []) {
      if (field.dataTypeID === NAME_OID) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

class NameAsTextClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query(...args: any[]): any {
    // pg-pool calls with a callback; the adapter's transactions use the promise form.
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      args[last] = (err: Error, res: any) => callback(err, err ? res : nameAsText(res));
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const result = (super.query as any)(...args);
    return result && typeof result.then === 'function' ? result.then(nameAsText) : result;
  }
}

export function createMigrationPool(connectionString: string): pg.Pool {
  return new pg.Pool({ connectionString, Client: NameAsTextClient, max: 2 });
}
