import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { encodeReading } from '../contracts/reading.ts';
import { newEventId } from '../ids.ts';
import { createRedis } from '../redis.ts';
import { type TestRedis, uniqueName, useRedis } from '../testing/index.ts';
import { storageFirst } from './storage-first.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'storage-first-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

describe('storage first', () => {
  it('holds alert work back only while the store group drains a backlog: behind and moving, not stuck, not caught up', async () => {
    const stream = uniqueName('readings');
    const pipeline = redis.pipeline();
    for (let i = 0; i < 200; i++)
      pipeline.xadd(
        stream,
        '*',
        ...encodeReading({ id: newEventId(), deviceId: 'd', metric: 'm', value: i, unit: 'u', ts: Date.now() }),
      );
    await pipeline.exec();
    await redis.xgroup('CREATE', stream, 'store', '0');
    // The store consumer reads the whole backlog at once, then stores it batch by batch.
    const read = (await redis.xreadgroup('GROUP', 'store', 'c', 'COUNT', 1_000, 'STREAMS', stream, '>')) as Array<
      [string, Array<[string, string[]]>]
    >;
    const ids = (read[0]?.[1] ?? []).map(([id]) => id);
    const first = storageFirst({ redis, stream, group: 'store' });
    expect(await first.draining()).toBe(false); // nothing to compare with yet
    await redis.xack(stream, 'store', ...ids.slice(0, 50));
    expect(await first.draining()).toBe(true); // 150 waiting, and it moved
    expect(await first.draining()).toBe(false); // 150 waiting, but stuck (storage away): no holding back
    await redis.xack(stream, 'store', ...ids.slice(50));
    expect(await first.draining()).toBe(false); // caught up
    await first.wait();
  });
});
