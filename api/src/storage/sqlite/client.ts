import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type BunSQLiteDatabase, drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import * as schema from './schema.ts';

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** The default database file, at the repository root whichever package directory runs the API. */
export const DEFAULT_DATABASE_PATH = resolve(import.meta.dir, '../../../../data/telemetry.db');
const MIGRATIONS = join(import.meta.dir, '../../../drizzle/sqlite');

/** `:memory:`, a file path, or a `file:` / `sqlite:` URL, as DATABASE_URL may give it. */
export function databasePath(databaseUrl: string): string {
  if (databaseUrl === ':memory:') return databaseUrl;
  const path = databaseUrl.replace(/^(sqlite|file):(\/\/)?/, '');
  return path === '' ? DEFAULT_DATABASE_PATH : path;
}

/**
 * Opens SQLite (creating its directory), applies the tuning the write path depends on, and runs
 * pending migrations.
 */
export function openDatabase(
  databaseUrl: string = DEFAULT_DATABASE_PATH,
  options: { autocheckpointPages?: number; create?: boolean } = {},
): Db {
  const path = databasePath(databaseUrl);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  // Reopened after a fault, a missing file stays missing: a fresh empty database would hide the loss.
  const sqlite = new Database(path, { create: options.create ?? true, readwrite: true, strict: true });
  // Retention's freed pages can go back to the file system (PRAGMA incremental_vacuum). SQLite
  // takes this only before anything is written to a new file — switching to WAL below writes its
  // header — so a database created earlier keeps reusing its freed pages instead, and shrinks
  // only after one `VACUUM`.
  sqlite.run('PRAGMA auto_vacuum = INCREMENTAL');
  // WAL: readers never block the writer. NORMAL: durable at checkpoints, and a crash of this
  // process loses nothing (only an OS crash can lose the last commits); fsync per batch is the
  // cost a 50k rows/s write path cannot pay.
  sqlite.run('PRAGMA journal_mode = WAL');
  sqlite.run('PRAGMA synchronous = NORMAL');
  sqlite.run('PRAGMA busy_timeout = 5000');
  // A batch from 1,000 devices dirties ~1,000 leaves of the per-device index; checkpointing every
  // 1,000 pages (the default) rewrote them almost every commit. Checkpoints run on a worker thread
  // instead (see checkpointer.ts, started by index.ts); this high mark is only a safety net.
  sqlite.run(`PRAGMA wal_autocheckpoint = ${options.autocheckpointPages ?? 10_000}`);
  // After a checkpoint, the WAL file is cut back to this size instead of keeping its peak.
  sqlite.run('PRAGMA journal_size_limit = 67108864');
  // Keeps the index leaves that every batch touches in memory (64 MiB).
  sqlite.run('PRAGMA cache_size = -65536');
  sqlite.run('PRAGMA temp_store = MEMORY');
  markIdentity(sqlite);
  return migrateDatabase(sqlite);
}

/**
 * Gives a new database a random identity in its header (`PRAGMA application_id`, 31 bits): a file
 * made anew where one was — deleted, or a backup restored over it — has another, which the API
 * notices at start (storage-identity.ts). File inodes do not tell: a new file often gets the
 * deleted one's.
 */
function markIdentity(sqlite: Database): void {
  const { application_id: current } = sqlite.query('PRAGMA application_id').get() as { application_id: number };
  if (current === 0) sqlite.run(`PRAGMA application_id = ${1 + Math.floor(Math.random() * 0x7ffffffe)}`);
}

/** A database's identity (see markIdentity), read on a short read-only connection; undefined if there is no file. */
export function databaseIdentity(path: string): string | undefined {
  if (path === ':memory:') return undefined;
  let sqlite: Database | undefined;
  try {
    sqlite = new Database(path, { readonly: true });
    const { application_id: id } = sqlite.query('PRAGMA application_id').get() as { application_id: number };
    return `sqlite:${id}`;
  } catch {
    return undefined;
  } finally {
    sqlite?.close();
  }
}

/** The API's schema on a connection: its pending migrations run (tables, indexes, the `readings` view). */
export function migrateDatabase(sqlite: Database): Db {
  const db = drizzle({ client: sqlite, schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS });
  return db;
}

/**
 * A connection for reads only, on a database the writer has opened and migrated: WAL lets it
 * read while the writer commits. `query_only` makes a stray write an error, not a second writer.
 */
export function openReader(path: string): Db {
  // Never creates the file: a reader opening again after the file was deleted under the API
  // would make an empty one where the writer must find none (the writer reopens without
  // creating too).
  const sqlite = new Database(path, { create: false, readwrite: true, strict: true });
  sqlite.run('PRAGMA busy_timeout = 5000');
  sqlite.run('PRAGMA query_only = ON');
  sqlite.run('PRAGMA cache_size = -16384');
  sqlite.run('PRAGMA temp_store = MEMORY');
  return drizzle({ client: sqlite, schema }) as Db;
}
