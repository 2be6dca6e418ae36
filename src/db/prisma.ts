import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';
import { createPool } from './postgres';

/** Prisma Client on the pg driver adapter (no native query engine). */
export function createPrisma(databaseUrl: string): PrismaClient {
  // The pool ends with $disconnect(), so a command exits as soon as it is done.
  return new PrismaClient({ adapter: new PrismaPg(createPool(databaseUrl, 4), { disposeExternalPool: true }) });
}

export type { PrismaClient };
