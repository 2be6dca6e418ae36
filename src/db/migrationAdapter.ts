import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';

/**
 * The driver adapter for Prisma's Wasm schema engine (migrate deploy/diff without a native
 * binary), with two fixes to @prisma/adapter-pg 6.19 for migrations:
 * - migration scripts run whole: the adapter splits them on every ';', which breaks the
 *   PL/pgSQL function bodies our hand-written migrations hold;
 * - the engine cannot deserialise columns of type `name` (OID 19, prisma/orm#27403); they
 *   are plain identifiers, so reporting them as `text` (OID 25) is exact.
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

class MigrationPrismaPg extends PrismaPg {
  async connect() {
    const adapter = await super.connect();
    const pool = adapter.underlyingDriver() as pg.Pool;
    adapter.executeScript = async (script: string) => {
      try {
        await pool.query(script);
      } catch (err) {
        // Surface the error as the adapter does, so Prisma reports it with the statement.
        (adapter as unknown as { onError(e: unknown): never }).onError(err);
      }
    };
    return adapter;
  }
}

export function migrationAdapter(connectionString: string): PrismaPg {
  return new MigrationPrismaPg(new pg.Pool({ connectionString, Client: NameAsTextClient, max: 2 }));
}
