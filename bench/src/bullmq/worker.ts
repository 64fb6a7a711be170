/**
 * The BullMQ build's worker: each job's readings straight into SQLite (see peer-sqlite.ts), one
 * transaction per job, at CONCURRENCY. Exits once EXPECT readings are stored, printing when the
 * last one was.
 */
import { Worker } from 'bullmq';
import type { Reading } from 'core';
import { openPeerStore } from '../peer-sqlite.ts';
import { redisConnection } from './connection.ts';

const expect = Number(process.env.EXPECT);
const insertAll = openPeerStore(process.env.DATABASE_PATH as string);

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
