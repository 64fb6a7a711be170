import type { Logger } from 'core';
import type { ReadingsStore } from './port.ts';
import { gateReads } from './read-gate.ts';
import { type PostgresStoreOptions, openPostgresStore } from './postgres/store.ts';
import { databasePath } from './sqlite/client.ts';
import { openSqliteStore } from './sqlite/store.ts';
import { openThreadedSqliteStore } from './sqlite/threaded-store.ts';

/** Why DATABASE_URL cannot be used, said so that the message alone tells what to fix. */
export class StorageConfigError extends Error {
  override readonly name = 'StorageConfigError';
}

/** Which backend a DATABASE_URL names: a path, `:memory:`, `file:` or `sqlite:` → SQLite. */
export function backendOf(databaseUrl: string): 'sqlite' | 'postgres' {
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) return 'postgres';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(databaseUrl) && !/^(file|sqlite):/i.test(databaseUrl)) {
    throw new StorageConfigError(
      `DATABASE_URL: ${JSON.stringify(databaseUrl.replace(/\/\/[^@/]*@/, '//…@'))} names no backend this API has (a file path, :memory:, file:, sqlite:, or postgres://)`,
    );
  }
  return 'sqlite';
}

/** The limits of either backend: readers and the statement budget for both, the pool for PostgreSQL. */
export type StoreOptions = PostgresStoreOptions;

/** Long reads that may wait for a turn, per reader; past them a read is refused (429). */
const WAITING_READS_PER_READER = 16;

/**
 * The store DATABASE_URL names, opened and migrated, its long reads bounded (see read-gate.ts).
 * @throws StorageConfigError naming DATABASE_URL and the reason.
 */
export async function openStore(
  databaseUrl: string,
  options: StoreOptions = {},
  logger?: Logger,
): Promise<ReadingsStore> {
  const readers = options.readers ?? 2;
  const store = await openUngated(databaseUrl, { ...options, readers }, logger);
  return gateReads(store, { running: readers, waiting: readers * WAITING_READS_PER_READER });
}

async function openUngated(databaseUrl: string, options: StoreOptions, logger?: Logger): Promise<ReadingsStore> {
  if (backendOf(databaseUrl) === 'postgres') {
    try {
      return await openPostgresStore(databaseUrl, options);
    } catch (error) {
      throw new StorageConfigError(`DATABASE_URL: ${(error as Error).message}`);
    }
  }
  try {
    const onFileGone = (message: string) => logger?.error('database_file_gone', { error: message });
    // In memory there is one connection, so it stays on this thread; a file gets its threads.
    if (databasePath(databaseUrl) === ':memory:') return openSqliteStore(databaseUrl, { onFileGone });
    return await openThreadedSqliteStore(databaseUrl, {
      statementTimeoutMs: options.statementTimeoutMs,
      readers: options.readers,
      readerNice: options.readerNice,
      onFileGone,
    });
  } catch (error) {
    throw new StorageConfigError(
      `DATABASE_URL: cannot open the SQLite database ${JSON.stringify(databaseUrl)}: ${(error as Error).message}`,
    );
  }
}
