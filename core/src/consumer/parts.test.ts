import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { createLogger } from '../logger.ts';
import { createRedis } from '../redis.ts';
import { type TestRedis, uniqueName, useRedis } from '../testing/index.ts';
import { createClaimer } from './claimer.ts';
import { ReconnectedError, createGroupReader } from './group-reader.ts';
import { readConsumers } from './groups.ts';
import { type RawEntry, emptyConsumerStats } from './types.ts';

let server: TestRedis;
let redis: Redis;
let blocking: Redis;
const logger = createLogger({ service: 'test', level: 'error' });
beforeAll(async () => {
  server = await useRedis();
  redis = createRedis(server.url, { name: 'parts-test' });
  blocking = createRedis(server.url, { name: 'parts-test:blocking', maxReconnectDelayMs: 50 });
});
afterAll(async () => {
  redis.disconnect();
  blocking.disconnect();
  await server.stop();
});

async function streamWithGroup(entries: number): Promise<string> {
  const stream = uniqueName('parts');
  await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  for (let i = 0; i < entries; i++) await redis.xadd(stream, '*', 'n', String(i));
  return stream;
}

/** Consumer `c` of group `g` on `stream`. */
const readerOf = (stream: string, batchSize: number, blockMs: number) =>
  createGroupReader({ redis, blockingRedis: blocking, stream, group: 'g', consumer: 'c', batchSize, blockMs });

describe('group reader', () => {
  it('reads new entries, its own pending ones again with their delivery counts, and sizes reads by items per entry', async () => {
    const stream = await streamWithGroup(6);
    const reader = readerOf(stream, 4, 100);
    try {
      const first = await reader.read('>');
      expect(first).toHaveLength(4);
      const again = await reader.read('0');
      expect(again.map(([id]) => id)).toEqual(first.map(([id]) => id));
      expect([...(await reader.deliveryCounts(again)).values()]).toEqual([2, 2, 2, 2]);
      // Frames of 2 items: about batchSize items' worth of entries a read.
      reader.sized(4, 8);
      reader.sized(4, 8);
      expect(await reader.read('>')).toHaveLength(2);
    } finally {
      reader.detach();
    }
  });

  it('throws ReconnectedError for a read answered across a reconnect: what it delivered stays pending', async () => {
    const stream = await streamWithGroup(0);
    const reader = readerOf(stream, 10, 2_000);
    try {
      const id = await blocking.client('ID');
      const outcome = reader.read('>').then(
        () => 'answered',
        (error: unknown) => error,
      );
      const reconnected = new Promise((resolve) => blocking.once('ready', resolve));
      await Bun.sleep(50);
      await redis.client('KILL', 'ID', String(id));
      await reconnected;
      await redis.xadd(stream, '*', 'n', '1');
      expect(await outcome).toBeInstanceOf(ReconnectedError);
      expect((await redis.xpending(stream, 'g'))[0]).toBe(1);
    } finally {
      reader.detach();
    }
  });
});

describe('claimer', () => {
  it('takes over what an idle consumer left, batch by batch, then forgets that consumer', async () => {
    const stream = await streamWithGroup(5);
    await redis.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 5, 'STREAMS', stream, '>');
    const stats = emptyConsumerStats();
    const claimIdle = createClaimer({
      redis,
      stream,
      group: 'g',
      consumer: 'alive',
      claimIdleMs: 1,
      batchSize: 2,
      forgetConsumersAfterMs: 1,
      stats,
      log: logger,
      closing: () => false,
    });
    await Bun.sleep(5);
    const batches: RawEntry[][] = [];
    await claimIdle(async (entries) => {
      batches.push(entries);
      await redis.xack(stream, 'g', ...entries.map(([id]) => id));
    });
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1]);
    expect(stats.claimed).toBe(5);
    await Bun.sleep(5);
    await claimIdle(async () => {});
    expect((await readConsumers(redis, stream, 'g')).map((consumer) => consumer.name)).toEqual(['alive']);
  });
});
