import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Reading, createRedis, newEventId, publishReadings } from 'core';
import { type ServiceProcess, freePort, startRedisServer } from 'core/testing';
import { spawnApi } from './support.ts';

/**
 * A cold backlog to drain: a Redis and an API (fresh SQLite file) of their own, and `total`
 * readings from 1,000 devices already in the stream, published 10,000 at a time in frames of
 * `frameReadings` (bench:backlog, bench:storm). `stop` ends the services given, the API and Redis.
 */
export async function backlogStack(options: {
  name: string;
  total: number;
  valueOf: (index: number) => number;
  frameReadings?: number;
}) {
  const { name, total, valueOf, frameReadings } = options;
  const dir = await mkdtemp(join(tmpdir(), `bench-${name}-`));
  const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
  const redis = createRedis(redisServer.url, { name: 'bench' });
  const databaseUrl = join(dir, `${name}.db`);
  const api = await spawnApi({
    port: await freePort(),
    databaseUrl,
    token: 'bench',
    env: { REDIS_URL: redisServer.url },
  });
  const stop = async (services: readonly ServiceProcess[]) => {
    for (const service of services) await service.kill('SIGTERM');
    await api.stop();
    redis.disconnect();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let start = 0; start < total; start += 10_000) {
      const readings: Reading[] = Array.from({ length: Math.min(10_000, total - start) }, (_, i) => ({
        id: newEventId(),
        deviceId: `device-${(start + i) % 1_000}`,
        metric: 'kwh',
        value: valueOf(start + i),
        unit: 'kWh',
        ts: Date.now(),
      }));
      await publishReadings(redis, 'readings', readings, frameReadings);
    }
  } catch (error) {
    await stop([]);
    throw error;
  }
  return {
    redis,
    api,
    databaseUrl,
    /** What the consumers need to reach them. */
    env: { REDIS_URL: redisServer.url, API_URL: api.url, API_TOKEN: 'bench', LOG_LEVEL: 'warn' },
    stop,
  };
}
