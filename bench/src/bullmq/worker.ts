/**
 * The BullMQ build's worker: each job's readings straight into SQLite (the API's compact rows,
 * statement and tuning: INSERT OR IGNORE by id, one transaction per job, WAL, synchronous NORMAL), at
 * CONCURRENCY. Exits once EXPECT readings are stored, printing when the last one was.
 */
import { Database } from 'bun:sqlite';
import { Worker } from 'bullmq';
import type { Reading } from 'core';
import { migrateDatabase } from 'api/src/storage/sqlite/client.ts';
import { nameKeys, storedId } from 'api/src/storage/sqlite/compact.ts';
import { redisConnection } from './connection.ts';

const expect = Number(process.env.EXPECT);
const db = new Database(process.env.DATABASE_PATH as string, { create: true, strict: true });
db.run('PRAGMA journal_mode = WAL');
db.run('PRAGMA synchronous = NORMAL');
db.run('PRAGMA cache_size = -65536');
db.run('PRAGMA temp_store = MEMORY');
// As the API tunes its writer: checkpoints every 1,000 pages (the default) rewrite the index
// leaves almost every commit; the API checkpoints on a thread of its own, this is its safety net.
db.run('PRAGMA wal_autocheckpoint = 10000');
// The API's schema, by its own migrations: compact rows (names as integer keys, a canonical UUID as
// its 16 bytes, the lead time) and their indexes. The peer writes no rollups (its tables stay
// empty): it does the job the way a BullMQ user would.
migrateDatabase(db);
const insert = db.prepare(
  'INSERT OR IGNORE INTO reading_rows (id, device, metric, value, unit, ts, lead) VALUES (?, ?, ?, ?, ?, ?, ?)',
);
const names = nameKeys(db);
const insertAll = db.transaction((readings: Reading[]) => {
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

let stored = 0;
const worker = new Worker(
  'readings',
  async (job) => {
    const readings: Reading[] = Array.isArray(job.data) ? job.data : [job.data];
    insertAll(readings);
    stored += readings.length;
    if (stored >= expect) {
      console.log(JSON.stringify({ event: 'stored', at: Date.now(), readings: stored }));
      setTimeout(() => process.exit(0), 50);
    }
  },
  { connection: redisConnection(), concurrency: Number(process.env.CONCURRENCY) },
);
worker.on('error', (error) => console.error(error));
