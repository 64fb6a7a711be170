/**
 * Store-path benchmark: (1) a stream pre-filled with N readings from 1,000 devices drained into
 * SQLite by consumer-store through the API — rows/s; (2) a steady rate from the producer —
 * lead time (reading ts → row stored) percentiles. Own redis-server (AOF everysec), API and
 * services on free ports. Flags: --readings N (default 500,000), --rate R (default 1,000),
 * --seconds S (default 30).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from 'core';
import { freePort, startRedisServer, startService } from 'core/testing';
import { formatLatency, summarize } from './pipeline/report.ts';
import { openStore, storedRows } from './storage.ts';
import { parseHopFlags, prefillReadings, processUsage, spawnApi } from './support.ts';

const { total, rate, seconds } = parseHopFlags(
  'bench:store',
  `Drains N readings (default 500,000) through consumer-store into the API (rows/s), then runs the
  producer at R readings/s (default 1,000) for S seconds (default 30): lead-time percentiles.`,
);

const root = join(import.meta.dir, '../..');
const dir = await mkdtemp(join(tmpdir(), 'bench-store-'));
const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
const redis = createRedis(redisServer.url, { name: 'bench' });
const dbPath = join(dir, 'bench.db');
const api = await spawnApi({ port: await freePort(), databaseUrl: dbPath, token: 'bench' });
const env = { REDIS_URL: redisServer.url, API_URL: api.url, API_TOKEN: 'bench', LOG_LEVEL: 'warn' };
// Read back through the storage port, as any tool should: never the database file itself.
const readings = await openStore(dbPath);
const rowCount = () => readings.count({});
const results: Record<string, string> = {};

try {
  // 1. Drain a pre-filled stream.
  const stream = 'bench-drain';
  await prefillReadings(redis, stream, total, (i) => i % 91);
  const started = performance.now();
  const store = startService(join(root, 'consumer-store/src/index.ts'), { ...env, READINGS_STREAM: stream });
  let firstRowsAt = 0;
  let firstRows = 0;
  for (let rows = await rowCount(); rows < total; rows = await rowCount()) {
    if (firstRowsAt === 0 && rows > 0) {
      firstRowsAt = performance.now();
      firstRows = rows;
    }
    await Bun.sleep(100);
  }
  const finished = performance.now();
  const elapsed = (finished - started) / 1_000;
  const draining = (finished - firstRowsAt) / 1_000;
  results[`store path: ${total.toLocaleString()} pre-filled readings → SQLite`] =
    `${Math.round((total - firstRows) / draining).toLocaleString()} readings/s once rows flow; ${Math.round(total / elapsed).toLocaleString()} readings/s incl. process start (${elapsed.toFixed(1)} s)`;
  results['consumer-store peak RSS while draining'] = `${(await processUsage(store.pid)).peakRssMb.toFixed(0)} MB`;
  await store.kill('SIGTERM');

  // 2. Steady rate: lead time.
  const steadyStream = 'bench-steady';
  const steadyStore = startService(join(root, 'consumer-store/src/index.ts'), {
    ...env,
    READINGS_STREAM: steadyStream,
  });
  await Bun.sleep(1_000);
  results['consumer-store idle RSS'] = `${(await processUsage(steadyStore.pid)).rssMb.toFixed(0)} MB`;
  const producer = startService(join(root, 'producer/src/index.ts'), {
    ...env,
    READINGS_STREAM: steadyStream,
    DEVICES: '1000',
    RATE: String(rate),
    COUNT: String(rate * seconds),
    PATTERN: 'uniform',
    METRIC: 'steady',
  });
  await producer.exited;
  const expected = rate * seconds;
  const deadline = Date.now() + 30_000;
  while ((await readings.count({ metric: 'steady' })) < expected && Date.now() < deadline) await Bun.sleep(200);
  const { leads } = await storedRows(readings, { metric: 'steady' });
  results[`lead time at ${rate.toLocaleString()}/s for ${seconds} s (ts → stored)`] = formatLatency(summarize(leads));
  await steadyStore.kill('SIGTERM');
} finally {
  await readings.close();
  await api.stop();
  redis.disconnect();
  await redisServer.stop();
  await rm(dir, { recursive: true, force: true });
}

console.log('| store-path measurement | result |\n|---|---|');
for (const [name, value] of Object.entries(results)) console.log(`| ${name} | ${value} |`);
