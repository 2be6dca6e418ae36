import pg from 'pg';
import { migrate } from '../src/stack/stack';

/** The bench's own PostgreSQL databases, on the stack's server, dropped at the end. */

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(stackUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: withDatabase(stackUrl, 'postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** An empty database (pgloader's target). */
export async function createEmptyDatabase(stackUrl: string, name: string): Promise<string> {
  await admin(stackUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  return withDatabase(stackUrl, name);
}

/**
 * A database with the sync's schema: a TEMPLATE copy of the stack's migrated database
 * (milliseconds), emptied of whatever rows that one holds (a demo's, say); when the template
 * is in use by another session (CREATE DATABASE refuses then), an empty one migrated anew.
 */
export async function createSyncDatabase(stackUrl: string, name: string, log: (l: string) => void): Promise<string> {
  const template = new URL(stackUrl).pathname.slice(1);
  const url = withDatabase(stackUrl, name);
  try {
    await admin(stackUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  } catch (err) {
    if ((err as { code?: string }).code !== '55006') throw err;
    log(`the template database ${template} is in use: creating ${name} empty and applying the migrations`);
    await admin(stackUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    await migrate(url);
    return url;
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ t: string }>(
      `SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`,
    );
    if (tables.rows.length) await c.query(`TRUNCATE ${tables.rows.map((r) => r.t).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await c.end();
  }
  return url;
}

export async function dropDatabase(stackUrl: string, name: string): Promise<void> {
  await admin(stackUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export async function recreateDatabase(stackUrl: string, name: string): Promise<string> {
  await dropDatabase(stackUrl, name);
  return createEmptyDatabase(stackUrl, name);
}
