import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { migrationAdapter } from './src/db/migrationAdapter';

// Migrations run on Prisma's bundled Wasm schema engine through the pg driver adapter:
// nothing is downloaded at run time.
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('DATABASE_URL is not set: start the stack (luckygas-sync stack up) or point it at PostgreSQL');
    return migrationAdapter(url);
  },
});
