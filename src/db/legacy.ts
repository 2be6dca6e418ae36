import { accessSync, constants, openSync, readSync, closeSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { TABLE_MAPPINGS } from '../convert/tables';

/**
 * Connections to the legacy SQLite file, which the legacy application keeps writing to:
 * read-only for the sync, read-write only for the write-back, always with a busy timeout.
 */

export class LegacyFileError extends Error {}

const SQLITE_MAGIC = 'SQLite format 3\u0000';

/** Checks the path names a readable SQLite file; the error says which of those it is not. */
export function checkLegacyFile(file: string, { writable = false } = {}): void {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new LegacyFileError(`legacy database ${file} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof LegacyFileError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      throw new LegacyFileError(`legacy database ${file} cannot be reached by this process (permission denied on a folder of its path)`);
    }
    throw new LegacyFileError(`legacy database ${file} does not exist (check LEGACY_DB_PATH)`);
  }
  try {
    accessSync(file, writable ? constants.R_OK | constants.W_OK : constants.R_OK);
  } catch {
    throw new LegacyFileError(`legacy database ${file} is not ${writable ? 'writable' : 'readable'} by this process`);
  }
  const header = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100 || header.toString('latin1') !== SQLITE_MAGIC) {
    throw new LegacyFileError(`legacy database ${file} is not an SQLite file`);
  }
}

export interface LegacyOpenOptions {
  readonly?: boolean;
  busyTimeoutMs?: number;
}

export function openLegacy(file: string, { readonly = true, busyTimeoutMs = 5000 }: LegacyOpenOptions = {}): Database.Database {
  checkLegacyFile(file, { writable: !readonly });
  const db = new Database(file, { readonly, fileMustExist: true, timeout: busyTimeoutMs });
  db.defaultSafeIntegers(false);
  try {
    checkLegacyTables(db, file);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * The file must have the contract's tables and columns: an older or different schema is
 * named at once, instead of "no such column" on every retry of every batch.
 */
export function checkLegacyTables(db: Database.Database, file: string): void {
  for (const mapping of Object.values(TABLE_MAPPINGS)) {
    const have = new Set((db.pragma(`table_info(${mapping.legacyTable})`) as { name: string }[]).map((c) => c.name));
    if (have.size === 0) throw new LegacyFileError(`legacy database ${file} has no table ${mapping.legacyTable}`);
    const missing = ['id', ...mapping.legacyColumns.map((c) => c.name)].filter((c) => !have.has(c));
    if (missing.length) throw new LegacyFileError(`legacy table ${mapping.legacyTable} in ${file} has no column ${missing.join(', ')}`);
  }
}

/**
 * One read-only connection per worker, kept between batches (its page cache and prepared
 * statements with it), reopened when the file at the path is another file (replaced or
 * restored) or after an error.
 */
export class LegacyReadConnection {
  private db: Database.Database | null = null;
  private inode = 0;

  constructor(private readonly file: string) {}

  get(): Database.Database {
    let ino = -1;
    try {
      ino = statSync(this.file).ino;
    } catch {
      /* checkLegacyFile names the problem below */
    }
    if (this.db && ino === this.inode) return this.db;
    this.close();
    this.db = openLegacy(this.file);
    this.inode = ino;
    return this.db;
  }

  /** Runs a read; a failed read drops the connection, so the retry starts afresh. */
  read<T>(body: (db: Database.Database) => T): T {
    try {
      return body(this.get());
    } catch (err) {
      this.close();
      throw err;
    }
  }

  close(): void {
    this.db?.close();
    this.db = null;
  }
}
