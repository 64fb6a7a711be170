/**
 * `bun run --cwd bench backlog`: catching up after an outage. N readings (1,000 devices, ~2% over
 * the threshold) already in the stream — written as frames of 500, then as single-reading entries
 * — when consumer-store and consumer-alert start; from their process start until the last reading
 * is stored and evaluated (every row checked). Flags: --readings N (500,000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRedis, groupsCaughtUp, newEventId, publishReadings } from 'core';
import { freePort, startRedisServer, startService } from 'core/testing';
import { openStore } from './storage.ts';
import { spawnApi } from './support.ts';

const { values } = parseArgs({ options: { readings: { type: 'string', default: '500000' } } });
const total = Number(values.readings);
if (!Number.isInteger(total) || total < 1) {
  console.error(`backlog: --readings must be a positive integer, got ${JSON.stringify(values.readings)}`);
  process.exit(2);
}
const root = join(import.meta.dir, '../..');

async function catchUp(frameReadings: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-backlog-'));
  const redisServer = await startRedisServer({ fsync: 'everysec' });
  const redis = createRedis(redisServer.url, { name: 'bench' });
  const databaseUrl = join(dir, 'backlog.db');
  const api = await spawnApi({
    port: await freePort(),
    databaseUrl,
    token: 'bench',
    env: { REDIS_URL: redisServer.url },
  });
  const services = [];
  try {
    for (let start = 0; start < total; start += 10_000) {
      const readings = Array.from({ length: Math.min(10_000, total - start) }, (_, i) => ({
        id: newEventId(),
        deviceId: `device-${(start + i) % 1_000}`,
        metric: 'kwh',
        value: (start + i) % 50 === 0 ? 75 : 20,
        unit: 'kWh',
        ts: Date.now(),
      }));
      await publishReadings(redis, 'readings', readings, frameReadings);
    }
    const entries = await redis.xlen('readings');
    const env = { REDIS_URL: redisServer.url, API_URL: api.url, API_TOKEN: 'bench', LOG_LEVEL: 'warn' };
    const started = performance.now();
    services.push(
      startService(join(root, 'consumer-store/src/index.ts'), env),
      startService(join(root, 'consumer-alert/src/index.ts'), env),
    );
    const store = await openStore(databaseUrl);
    try {
      for (;;) {
        await Bun.sleep(50);
        // The groups first (cheap); the row count (a scan) only once they are through.
        if (
          (await groupsCaughtUp(redis, 'readings', ['store', 'alerts']).catch(() => false)) &&
          (await store.count({}).catch(() => 0)) >= total
        )
          break;
      }
    } finally {
      await store.close();
    }
    const seconds = (performance.now() - started) / 1_000;
    return `| ${total.toLocaleString()} readings waiting as ${entries.toLocaleString()} ${frameReadings > 1 ? `frames (≤ ${frameReadings})` : 'single-reading entries'} | ${Math.round(total / seconds).toLocaleString()} readings/s (${seconds.toFixed(1)} s from the consumers' process start to the last stored and evaluated) |`;
  } finally {
    for (const service of services) await service.kill('SIGTERM');
    await api.stop();
    redis.disconnect();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

console.log('| backlog | caught up |\n|---|---|');
for (const frameReadings of [500, 1, 500, 1]) console.log(await catchUp(frameReadings));
