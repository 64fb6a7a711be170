import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { createLogger } from '../logger.ts';
import { createRedis } from '../redis.ts';
import { type TestRedis, uniqueName, useRedis } from '../testing/index.ts';
import { createBatchHandler } from './batch-handler.ts';
import { createBatchesInHand } from './batches-in-hand.ts';
import { createClaimer } from './claimer.ts';
import { type ConsumerOptions, resolveConsumerOptions } from './consumer-options.ts';
import { readDeadLetters } from './dead-letter.ts';
import { ReconnectedError, createGroupReader } from './group-reader.ts';
import { createSettler } from './settler.ts';
import { readConsumers } from './groups.ts';
import { type EntryOutcome, type RawEntry, emptyConsumerStats } from './types.ts';

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

describe('batch handler (the ledger)', () => {
  it('hands items over at most batchSize a call, retries a throw and each retried item, and settles each by its outcome', async () => {
    const stream = await streamWithGroup(5);
    const calls: string[][] = [];
    let thrown = false;
    let retriedOne = false;
    const options: ConsumerOptions<string> = {
      redis,
      blockingRedis: blocking,
      stream,
      group: 'g',
      consumer: 'c',
      decode: (fields) => fields[1] as string,
      handle: async (batch) => {
        calls.push(batch.map((entry) => entry.value));
        if (!thrown) {
          thrown = true;
          throw new Error('the API is away');
        }
        // '1' needs one more try; '3' is refused for good; the rest are done.
        return batch.map((entry): EntryOutcome => {
          if (entry.value === '3') return { dead: 'refused' };
          if (entry.value === '1' && !retriedOne) {
            retriedOne = true;
            return 'retry';
          }
          return 'done';
        });
      },
      logger,
      batchSize: 3,
      retryBaseMs: 1,
    };
    const resolved = resolveConsumerOptions(options);
    const stats = emptyConsumerStats();
    const reader = createGroupReader({
      redis,
      blockingRedis: blocking,
      stream,
      group: 'g',
      consumer: 'c',
      batchSize: 10,
      blockMs: 100,
    });
    const settle = createSettler({
      redis,
      stream,
      group: 'g',
      consumer: 'c',
      deadLetterStream: resolved.deadLetterStream,
      stats,
      log: logger,
      closing: () => false,
      retryBaseMs: 1,
      retryMaxMs: 10,
    });
    const inHand = createBatchesInHand(1, async () => {});
    const handleEntries = createBatchHandler({
      options: resolved,
      reader,
      settle,
      inHand,
      stats,
      log: logger,
      closing: () => false,
      pause: (ms) => Bun.sleep(ms),
    });
    try {
      await handleEntries(await reader.read('>'), 'new');
      // Three items a call: the throw retried whole, then '1' alone (a retry is in memory, not
      // a redelivery), then the rest.
      expect(calls).toEqual([['0', '1', '2'], ['0', '1', '2'], ['1'], ['3', '4']]);
      expect((await redis.xpending(stream, 'g'))[0]).toBe(0);
      const dead = await readDeadLetters(redis, resolved.deadLetterStream, 10);
      expect(dead.map((letter) => letter.reason)).toEqual(['refused']);
      expect(stats.acked).toBe(5);
      expect(stats.deadLettered).toBe(1);
      expect(stats.retried).toBe(4);
    } finally {
      reader.detach();
    }
  });
});
