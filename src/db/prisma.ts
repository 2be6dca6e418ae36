import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';
import { createPool } from './postgres';

/** Prisma Client on the pg driver adapter (no native query engine). */
export function createPrisma(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(createPool(databaseUrl, 4)) });
}

export type { PrismaClient };
