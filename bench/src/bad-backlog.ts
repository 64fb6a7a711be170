/**
 * One bad reading costs one reading: a backlog of N readings already in the stream, drained by
 * consumer-store into the API, clean and then with a share of bad readings mixed in (dated two
 * days ahead, which every door refuses, and ids already stored with other content, which the API
 * answers as conflicts). The bad ones are dead-lettered alone; the drain should take about as
 * long. Flags: --readings N (default 100,000), --bad-share S (default 0.1).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Reading, createRedis, encodeReading, groupsCaughtUp, newEventId, streamKeys } from 'core';
import { freePort, startRedisServer, startService, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { spawnApi } from './support.ts';

const USAGE = 'Usage: bun run --cwd bench bad-backlog [--readings N] [--bad-share S]';
let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      readings: { type: 'string', default: '100000' },
      'bad-share': { type: 'string', default: '0.1' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  console.error(`bad-backlog: ${(error as Error).message.split('. ')[0]} (see --help)`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const total = Number(values.readings);
const badShare = Number(values['bad-share']);
if (!Number.isInteger(total) || total < 1 || !(badShare >= 0 && badShare < 1)) {
  console.error(`bad-backlog: --readings must be a positive whole number and --bad-share in [0, 1) (see --help)`);
  process.exit(2);
}

const root = join(import.meta.dir, '../..');
const dir = await mkdtemp(join(tmpdir(), 'bench-bad-'));
const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
const redis = createRedis(redisServer.url, { name: 'bench' });
const api = await spawnApi({ port: await freePort(), databaseUrl: join(dir, 'bench.db'), token: 'bench' });
const env = { REDIS_URL: redisServer.url, API_URL: api.url, API_TOKEN: 'bench', LOG_LEVEL: 'error' };

/** Fills `stream`; every `1 / badShare`-th reading is bad, alternately too far ahead or a conflict. */
async function fill(client: Redis, stream: string, share: number, conflictWith: Reading) {
  const every = share > 0 ? Math.round(1 / share) : 0;
  for (let start = 0; start < total; start += 10_000) {
    const pipeline = client.pipeline();
    for (let i = start; i < Math.min(total, start + 10_000); i++) {
      let reading: Reading = {
        id: newEventId(),
        deviceId: `device-${i % 1_000}`,
        metric: 'kwh',
        value: i % 91,
        unit: 'kWh',
        ts: Date.now(),
      };
      if (every > 0 && i % every === every - 1) {
        reading = (i / every) % 2 < 1 ? { ...reading, ts: Date.now() + 2 * 86_400_000 } : { ...conflictWith, value: i };
      }
      pipeline.xadd(stream, '*', ...encodeReading(reading));
    }
    await pipeline.exec();
  }
}

async function drain(stream: string): Promise<{ seconds: number; dead: number }> {
  const started = performance.now();
  const store = startService(join(root, 'consumer-store/src/index.ts'), { ...env, READINGS_STREAM: stream });
  await waitFor(() => groupsCaughtUp(redis, stream, ['store']), {
    timeoutMs: 300_000,
    intervalMs: 50,
    what: `${stream} drained`,
  });
  const seconds = (performance.now() - started) / 1_000;
  await store.kill('SIGTERM');
  return { seconds, dead: await redis.xlen(streamKeys(redis, stream).dead) };
}

try {
  const stored: Reading = {
    id: newEventId(),
    deviceId: 'device-0',
    metric: 'kwh',
    value: 1,
    unit: 'kWh',
    ts: Date.now(),
  };
  await fetch(`${api.url}/readings/batch`, {
    method: 'POST',
    headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
    body: JSON.stringify({ readings: [{ ...stored, ts: new Date(stored.ts).toISOString() }] }),
  });
  await fill(redis, 'clean', 0, stored);
  const clean = await drain('clean');
  await fill(redis, 'bad', badShare, stored);
  const bad = await drain('bad');
  console.log(
    '| backlog drained by consumer-store (incl. its start) | seconds | readings/s | dead-lettered |\n|---|---|---|---|',
  );
  console.log(
    `| ${total.toLocaleString('en-US')} clean | ${clean.seconds.toFixed(1)} | ${Math.round(total / clean.seconds).toLocaleString('en-US')} | ${clean.dead} |`,
  );
  console.log(
    `| ${total.toLocaleString('en-US')} with ${Math.round(badShare * 100)}% bad | ${bad.seconds.toFixed(1)} | ${Math.round(total / bad.seconds).toLocaleString('en-US')} | ${bad.dead.toLocaleString('en-US')} |`,
  );
} finally {
  await api.stop();
  redis.disconnect();
  await redisServer.stop();
  await rm(dir, { recursive: true, force: true });
}
