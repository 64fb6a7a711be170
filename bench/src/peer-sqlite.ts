/**
 * The peers' store: readings straight into SQLite as the API stores them (its compact rows,
 * statement and tuning: INSERT OR IGNORE by id, WAL, synchronous NORMAL), one transaction per
 * call. The peers write no rollups (their tables stay empty): the job done the way their users
 * would do it.
 */
import { Database } from 'bun:sqlite';
import type { Reading } from 'core';
import { migrateDatabase } from 'api/src/storage/sqlite/client.ts';
import { storedId } from 'api/src/storage/id-bytes.ts';
import { nameKeys } from 'api/src/storage/sqlite/compact.ts';

export function openPeerStore(path: string): (readings: readonly Reading[]) => void {
  const db = new Database(path, { create: true, strict: true });
  db.run('PRAGMA journal_mode = WAL');
  db.run('PRAGMA synchronous = NORMAL');
  db.run('PRAGMA cache_size = -65536');
  db.run('PRAGMA temp_store = MEMORY');
  // As the API tunes its writer: checkpoints every 1,000 pages (the default) rewrite the index
  // leaves almost every commit; the API checkpoints on a thread of its own, this is its safety net.
  db.run('PRAGMA wal_autocheckpoint = 10000');
  // The API's schema, by its own migrations: compact rows (names as integer keys, a canonical
  // UUID as its 16 bytes, the lead time) and their indexes.
  migrateDatabase(db);
  const insert = db.prepare(
    'INSERT OR IGNORE INTO reading_rows (id, device, metric, value, unit, ts, lead) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const names = nameKeys(db);
  return db.transaction((readings: readonly Reading[]) => {
    const now = Date.now();
    for (const r of readings)
      insert.run(
        storedId(r.id),
        names.key(r.deviceId),
        names.key(r.metric),
        r.value,
        names.key(r.unit),
        r.ts,
        now - r.ts,
      );
  });
}

/** READINGS readings from 1,000 devices (~2% over 50, as the pipeline's producer), in batches of `size`. */
export function* peerReadings(count: number, size: number, newId: () => string): Generator<Reading[]> {
  for (let made = 0; made < count; ) {
    const batch: Reading[] = [];
    for (let k = 0; k < size && made < count; k++, made++)
      batch.push({
        id: newId(),
        deviceId: `device-${made % 1_000}`,
        metric: 'kwh',
        value: Math.floor(Math.random() * 52),
        unit: 'kWh',
        ts: Date.now(),
      });
    yield batch;
  }
}
