import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import Redis from 'ioredis';
import type { Reading } from './contracts/reading.ts';
import { partitionStream } from './keys.ts';
import { PartitionCountMismatchError, checkPartitionCount, partitionOf, readingStreams } from './partitions.ts';
import { publishReadings } from './publish-readings.ts';
import { type TestRedis, streamReadings, uniqueName, useRedis } from './testing/index.ts';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await useRedis();
  redis = new Redis(server.url, { lazyConnect: true });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const reading = (deviceId: string, n: number): Reading => ({
  id: `${deviceId}-${n}`,
  deviceId,
  metric: 'temperature',
  value: n,
  unit: 'C',
  ts: 1_700_000_000_000 + n,
});

describe('partitions of the readings stream', () => {
  it('partition 0 keeps the stream’s name; the others add their number', () => {
    expect(readingStreams('readings', 3).streams).toEqual(['readings', 'readings:1', 'readings:2']);
    expect(readingStreams('readings').streams).toEqual(['readings']);
    expect(partitionStream('r', 5)).toBe('r:5');
  });

  it('puts a device in a partition by FNV-1a of its id, the same for ever', () => {
    // FNV-1a 32 of "a" is 0xe40c292c (the hash's published test vector).
    expect(partitionOf('a', 1_000_000)).toBe(0xe40c292c % 1_000_000);
    expect(partitionOf('a', 1)).toBe(0);
    // The example of docs/event-contract.md.
    expect(partitionOf('device-001', 8)).toBe(1);
    // Not ASCII: hashed over its UTF-8 bytes (c3 bc), as a device computing it would.
    let expected = 0x811c9dc5;
    for (const byte of [0xc3, 0xbc]) expected = Math.imul(expected ^ byte, 0x01000193) >>> 0;
    expect(partitionOf('ü', 1_000_003)).toBe(expected % 1_000_003);
    const counts = new Array(8).fill(0);
    for (let n = 0; n < 1_000; n++) counts[partitionOf(`device-${n}`, 8)] += 1;
    // A thousand devices over eight partitions: every one gets a fair share.
    for (const count of counts) expect(count).toBeGreaterThan(80);
  });

  it('refuses a count out of range, naming it', () => {
    expect(() => readingStreams('readings', 0)).toThrow('got 0');
    expect(() => readingStreams('readings', 257)).toThrow('from 1 to 256');
  });

  it('records the count on first start, and refuses another, naming both', async () => {
    const base = uniqueName('readings');
    await checkPartitionCount(redis, readingStreams(base, 4));
    await checkPartitionCount(redis, readingStreams(base, 4));
    const refused = await checkPartitionCount(redis, readingStreams(base, 2)).catch((error) => error);
    expect(refused).toBeInstanceOf(PartitionCountMismatchError);
    expect(refused.message).toContain('STREAM_PARTITIONS is 2');
    expect(refused.message).toContain('into 4 partitions');
  });

  for (const frameReadings of [1, 3]) {
    it(`publishes each device's readings to its partition, in order (FRAME_READINGS=${frameReadings})`, async () => {
      const streams = readingStreams(uniqueName('readings'), 4);
      const devices = Array.from({ length: 20 }, (_, n) => `device-${n}`);
      const readings = Array.from({ length: 200 }, (_, n) => reading(devices[n % devices.length] as string, n));
      expect(await publishReadings(redis, streams, readings, frameReadings)).toBe(200);
      let total = 0;
      for (const [index, stream] of streams.streams.entries()) {
        const held = await streamReadings(redis, stream);
        total += held.length;
        for (const one of held) expect(partitionOf(one.deviceId, 4)).toBe(index);
        for (const device of devices) {
          const own = held.filter((one) => one.deviceId === device).map((one) => one.value);
          expect(own).toEqual([...own].sort((a, b) => a - b));
        }
      }
      expect(total).toBe(200);
    });
  }
});
