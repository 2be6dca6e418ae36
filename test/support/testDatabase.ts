import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A fresh PostgreSQL database per test file, cloned from the migrated stack database (a
 * template copy takes milliseconds), so test files never see each other's rows.
 */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set: run the tests with jest (its globalSetup starts the stack)');
  const template = new URL(base).pathname.slice(1);
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  // Conflict ids name review workflows, and the test databases share one Temporal namespace:
  // each database's ids start elsewhere, so reviews of different test files never meet.
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    await db.query(`SELECT setval('sync_conflicts_id_seq', $1)`, [1 + (randomBytes(4).readUInt32BE(0) % 1_000_000_000)]);
  } finally {
    await db.end();
  }
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
