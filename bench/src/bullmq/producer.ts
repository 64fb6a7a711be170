/**
 * The BullMQ build's producer: READINGS readings from 1,000 devices (~2% over 50, as ours), as
 * jobs of PER_JOB readings (1: one job per reading), added in bulk. Prints its first add's time.
 */
import { Queue } from 'bullmq';
import { newEventId } from 'core';
import { peerReadings } from '../peer-sqlite.ts';
import { redisConnection } from './connection.ts';

const readings = Number(process.env.READINGS);
const perJob = Number(process.env.PER_JOB);
const queue = new Queue('readings', { connection: redisConnection() });
/** Jobs per addBulk: about 10,000 readings, so the worker starts while the producer goes on. */
const BULK = Math.max(1, Math.floor(10_000 / perJob));
console.log(JSON.stringify({ event: 'started', at: Date.now() }));
let jobs = [];
for (const batch of peerReadings(readings, perJob, newEventId)) {
  // What a performance-minded user sets: completed jobs are not kept.
  jobs.push({
    name: 'r',
    data: perJob === 1 ? batch[0] : batch,
    opts: { removeOnComplete: true, removeOnFail: 1_000 },
  });
  if (jobs.length === BULK) {
    await queue.addBulk(jobs);
    jobs = [];
  }
}
if (jobs.length > 0) await queue.addBulk(jobs);
await queue.close();
console.log(JSON.stringify({ event: 'done', readings }));
