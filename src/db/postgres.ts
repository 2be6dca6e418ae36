import pg from 'pg';

/** The sync's PostgreSQL pool; sslmode and the like come with DATABASE_URL. */
export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, application_name: 'luckygas-sync' });
  // A client losing its server (idle, or checked out between queries) must not crash the
  // worker: the failure reaches the caller through its query, and Temporal retries.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Runs `body` in one transaction; everything it writes commits together or not at all. */
export async function inTransaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await body(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** A pool or a client in a transaction: what a statement runs on. */
export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Integer ids as one array parameter, in PostgreSQL's text form: node-pg would quote and
 * escape every element of a JS array (a tenth of a load's own thread, at 5,000 ids a page).
 */
export function idArray(ids: readonly number[]): string {
  return `{${ids.join(',')}}`;
}
