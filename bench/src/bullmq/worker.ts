/**
 * The BullMQ build's worker: each job's readings straight into SQLite (the API's schema,
 * statement and tuning: INSERT OR IGNORE by id, one transaction per job, WAL, synchronous NORMAL), at
 * CONCURRENCY. Exits once EXPECT readings are stored, printing when the last one was.
 */
import { Database } from 'bun:sqlite';
import { Worker } from 'bullmq';
import type { Reading } from 'core';
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
db.run('CREATE TABLE IF NOT EXISTS readings (id text PRIMARY KEY NOT NULL, device_id text NOT NULL, metric text NOT NULL, value real NOT NULL, unit text NOT NULL, ts integer NOT NULL, stored_at integer NOT NULL)');
// The API's indexes (and not its rollups: the peer does the job the way a BullMQ user would).
db.run('CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts)');
db.run('CREATE INDEX IF NOT EXISTS readings_device_ts_id ON readings (device_id, ts, id)');
const insert = db.prepare('INSERT OR IGNORE INTO readings (id, device_id, metric, value, unit, ts, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
const insertAll = db.transaction((readings: Reading[]) => {
  const now = Date.now();
  for (const r of readings) insert.run(r.id, r.deviceId, r.metric, r.value, r.unit, r.ts, now);
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
