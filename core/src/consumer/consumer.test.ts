import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { InvalidEventError } from '../contracts/errors.ts';
import { createLogger } from '../logger.ts';
import { streamKeys } from '../keys.ts';
import { createRedis } from '../redis.ts';
import { type TestRedis, uniqueName, useRedis, waitFor } from '../testing/index.ts';
import {
  type Consumer,
  type ConsumerEntry,
  type ConsumerOptions,
  type EntryOutcome,
  StopConsumingError,
  createConsumer,
} from './consumer.ts';
import { readDeadLetters } from './dead-letter.ts';
import { readConsumers } from './groups.ts';

let testRedis: TestRedis;
let redis: Redis;
const open: Array<{ consumer: Consumer; blocking: Redis }> = [];

beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'consumer-test' });
});
afterEach(async () => {
  for (const { consumer, blocking } of open.splice(0)) {
    await consumer.close();
    blocking.disconnect();
  }
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const quiet = createLogger({ service: 'test', level: 'error', pretty: false, write: () => {} });

/** Entries `n=<i>`; a field list that is not one decodes to an InvalidEventError. */
const decode = (fields: string[]) => {
  if (fields[0] !== 'n' || !/^\d+$/.test(fields[1] ?? ''))
    throw new InvalidEventError('n', 'is missing or not a number');
  return Number(fields[1]);
};

async function fill(stream: string, count: number, from = 0) {
  const pipeline = redis.pipeline();
  for (let i = from; i < from + count; i++) pipeline.xadd(stream, '*', 'n', String(i));
  await pipeline.exec();
}

function start(
  stream: string,
  handle: ConsumerOptions<number>['handle'],
  overrides: Partial<ConsumerOptions<number>> = {},
) {
  const blocking = createRedis(testRedis.url, { name: 'consumer-test:blocking' });
  const consumer = createConsumer({
    redis,
    blockingRedis: blocking,
    stream,
    group: 'g',
    decode,
    handle,
    logger: quiet,
    blockMs: 100,
    retryBaseMs: 10,
    retryMaxMs: 50,
    ...overrides,
  });
  open.push({ consumer, blocking });
  const finished = consumer.run();
  return { consumer, finished };
}

const pendingCount = async (stream: string) => ((await redis.xpending(stream, 'g')) as [number])[0];

/** Takes entries as consumer `name` without acking them: what a crashed consumer leaves behind. */
async function takeWithoutAck(stream: string, name: string, count: number) {
  await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM').catch(() => {});
  return redis.xreadgroup('GROUP', 'g', name, 'COUNT', count, 'STREAMS', stream, '>');
}

describe('createConsumer', () => {
  it('refuses bad options at construction', () => {
    const base = {
      redis,
      blockingRedis: redis,
      stream: 's',
      group: 'g',
      decode,
      handle: async () => {},
      logger: quiet,
    };
    expect(() => createConsumer({ ...base, batchSize: 0 })).toThrow('batchSize must be a whole number');
    expect(() => createConsumer({ ...base, claimIdleMs: 1.5 })).toThrow('claimIdleMs');
    expect(() => createConsumer({ ...base, stream: '' })).toThrow('stream and group are required');
  });

  it('hands every entry over once and acks each after the handler returns', async () => {
    const stream = uniqueName('s');
    await fill(stream, 1_000);
    const seen: number[] = [];
    start(stream, async (batch) => {
      seen.push(...batch.map((entry) => entry.value));
    });
    await waitFor(() => seen.length >= 1_000, { what: '1,000 entries' });
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acks' });
    expect(new Set(seen).size).toBe(1_000);
    expect(seen).toHaveLength(1_000);
  });

  it('with concurrency 2 handles two batches at once, each entry once', async () => {
    const stream = uniqueName('s');
    let active = 0;
    let mostActive = 0;
    const seen: number[] = [];
    start(
      stream,
      async (batch) => {
        active += 1;
        mostActive = Math.max(mostActive, active);
        await Bun.sleep(50);
        seen.push(...batch.map((entry) => entry.value));
        active -= 1;
      },
      { batchSize: 100, concurrency: 2 },
    );
    await fill(stream, 1_000);
    await waitFor(async () => seen.length >= 1_000 && (await pendingCount(stream)) === 0, { what: 'all acked' });
    expect(new Set(seen).size).toBe(1_000);
    expect(seen).toHaveLength(1_000);
    expect(mostActive).toBe(2);
  });

  it('re-reads its own pending entries on start, before new ones', async () => {
    const stream = uniqueName('s');
    await fill(stream, 5);
    await takeWithoutAck(stream, 'worker-1', 5);
    await fill(stream, 3, 5);
    const seen: Array<ConsumerEntry<number>> = [];
    start(stream, async (batch) => void seen.push(...batch), { consumer: 'worker-1' });
    await waitFor(() => seen.length === 8, { what: 'all 8' });
    expect(seen.map((entry) => entry.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(seen.slice(0, 5).every((entry) => entry.deliveries === 2)).toBe(true);
    expect(seen[5]?.deliveries).toBe(1);
  });

  it("takes over a dead consumer's idle entries and forgets the dead consumer once it owns nothing", async () => {
    const stream = uniqueName('s');
    await fill(stream, 10);
    await takeWithoutAck(stream, 'dead-one', 10);
    const seen: number[] = [];
    const { consumer } = start(stream, async (batch) => void seen.push(...batch.map((e) => e.value)), {
      consumer: 'alive',
      claimIdleMs: 200,
      claimIntervalMs: 100,
      forgetConsumersAfterMs: 300,
    });
    await waitFor(() => seen.length === 10, { what: 'claimed entries' });
    expect(consumer.stats().claimed).toBe(10);
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acks' });
    await waitFor(
      async () => !(await readConsumers(redis, stream, 'g')).some((consumer) => consumer.name === 'dead-one'),
      { what: 'dead consumer removed' },
    );
  });

  it('dead-letters undecodable entries at once, with the reason and original fields, and goes on', async () => {
    const stream = uniqueName('s');
    await fill(stream, 3);
    await redis.xadd(stream, '*', 'garbage', 'yes');
    await fill(stream, 3, 3);
    const seen: number[] = [];
    start(stream, async (batch) => void seen.push(...batch.map((e) => e.value)));
    await waitFor(() => seen.length === 6, { what: 'good entries' });
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acks' });
    const dead = await readDeadLetters(redis, streamKeys(redis, stream).dead);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      reason: 'invalid event: n is missing or not a number',
      fields: ['garbage', 'yes'],
      group: 'g',
      deliveries: 1,
    });
  });

  it('dead-letters an entry delivered more than maxDeliveries times', async () => {
    const stream = uniqueName('s');
    await fill(stream, 2);
    const [[, entries]] = (await takeWithoutAck(stream, 'crashy', 2)) as [[string, Array<[string, string[]]>]];
    const poisonId = entries[0]?.[0] as string;
    // Two more deliveries of the first entry, as two more crashes would make.
    for (let i = 0; i < 2; i++) await redis.xclaim(stream, 'g', 'crashy', 0, poisonId);
    const seen: number[] = [];
    start(stream, async (batch) => void seen.push(...batch.map((e) => e.value)), {
      consumer: 'crashy',
      maxDeliveries: 3,
    });
    await waitFor(() => seen.length === 1, { what: 'the healthy entry' });
    expect(seen).toEqual([1]);
    const dead = await waitFor(async () => (await readDeadLetters(redis, streamKeys(redis, stream).dead))[0], {
      what: 'dead letter',
    });
    expect(dead).toMatchObject({
      entryId: poisonId,
      reason: 'delivered 4 times (maxDeliveries 3)',
      fields: ['n', '0'],
    });
  });

  it('follows per-entry outcomes: done acks, retry comes back, dead goes to the dead-letter stream', async () => {
    const stream = uniqueName('s');
    await fill(stream, 3);
    const calls: number[][] = [];
    start(stream, async (batch): Promise<EntryOutcome[]> => {
      calls.push(batch.map((e) => e.value));
      return batch.map((entry) =>
        entry.value === 1 && calls.length === 1
          ? 'retry'
          : entry.value === 2
            ? { dead: 'rejected by the API: value' }
            : 'done',
      );
    });
    await waitFor(async () => calls.length >= 2 && (await pendingCount(stream)) === 0, { what: 'settled' });
    expect(calls).toEqual([[0, 1, 2], [1]]);
    const dead = await readDeadLetters(redis, streamKeys(redis, stream).dead);
    expect(dead.map((letter) => [letter.reason, letter.fields])).toEqual([['rejected by the API: value', ['n', '2']]]);
  });

  it('retries a failing handler in memory with backoff, honouring retryAfterMs, without counting deliveries', async () => {
    const stream = uniqueName('s');
    await fill(stream, 2);
    const attempts: Array<{ at: number; deliveries: number[] }> = [];
    start(stream, async (batch) => {
      attempts.push({ at: Date.now(), deliveries: batch.map((e) => e.deliveries) });
      if (attempts.length < 3) throw Object.assign(new Error('API answered 503'), { retryAfterMs: 300 });
    });
    await waitFor(async () => attempts.length === 3 && (await pendingCount(stream)) === 0, {
      what: 'success after retries',
    });
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(290);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(290);
    expect(attempts.every((attempt) => attempt.deliveries.every((count) => count === 1))).toBe(true);
  });

  it.each([
    ['alone', false],
    ['with a peer', true],
  ])('a batch read ahead during a long retry is handled once (%s)', async (_, withPeer) => {
    const stream = uniqueName('s');
    await fill(stream, 20);
    const handled: number[] = [];
    let failures = 0;
    const handle = async (batch: ReadonlyArray<ConsumerEntry<number>>) => {
      // The first batch fails for ~4× claimIdleMs while the next one waits, read ahead.
      if (batch[0]?.value === 0 && failures++ < 8) throw Object.assign(new Error('webhook 429'), { retryAfterMs: 100 });
      handled.push(...batch.map((entry) => entry.value));
    };
    start(stream, handle, { batchSize: 10, claimIdleMs: 200, consumer: 'a' });
    await waitFor(() => failures >= 2, { what: 'a retrying its first batch' });
    // A peer that takes over anything left idle for 200 ms.
    if (withPeer) start(stream, handle, { batchSize: 10, claimIdleMs: 200, consumer: 'b' });
    await waitFor(async () => handled.length >= 20 && (await pendingCount(stream)) === 0, {
      timeoutMs: 10_000,
      what: 'all handled',
    });
    await Bun.sleep(500);
    expect(handled.toSorted((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('stops on StopConsumingError and leaves the entries pending', async () => {
    const stream = uniqueName('s');
    await fill(stream, 4);
    const { finished } = start(stream, async () => {
      throw new StopConsumingError('API answered 401: check API_TOKEN');
    });
    expect(await finished).toEqual({ reason: 'stopped', message: 'API answered 401: check API_TOKEN' });
    expect(await pendingCount(stream)).toBe(4);
  });

  it('recreates its group when the stream is deleted, instead of crash-looping', async () => {
    const stream = uniqueName('s');
    const seen: number[] = [];
    start(stream, async (batch) => void seen.push(...batch.map((e) => e.value)));
    await fill(stream, 1);
    await waitFor(() => seen.length === 1, { what: 'first entry' });
    await redis.del(stream);
    await Bun.sleep(300);
    await fill(stream, 1, 1);
    await waitFor(() => seen.length === 2, { what: 'entry after the stream was recreated', timeoutMs: 5_000 });
    expect(seen).toEqual([0, 1]);
  });

  it('close() finishes and acks the batch in hand, and is idempotent', async () => {
    const stream = uniqueName('s');
    await fill(stream, 5);
    let release: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => {
      release = resolve;
    });
    let handled = 0;
    const { consumer, finished } = start(stream, async (batch) => {
      release();
      await Bun.sleep(300);
      handled += batch.length;
    });
    await inHandler;
    await Promise.all([consumer.close(), consumer.close()]);
    expect(await finished).toEqual({ reason: 'closed' });
    expect(handled).toBe(5);
    expect(await pendingCount(stream)).toBe(0);
  });

  it('closed while a batch is retried: leaves it and the batch read ahead pending, never handling the later one first', async () => {
    const stream = uniqueName('s');
    await fill(stream, 10);
    const handled: number[] = [];
    let failing: () => void = () => {};
    const retried = new Promise<void>((resolve) => {
      failing = resolve;
    });
    // Batches of 5: the first always fails, while the second has been read ahead.
    const { consumer, finished } = start(
      stream,
      async (batch) => {
        if (batch[0]?.value === 0) {
          failing();
          throw new Error('not now');
        }
        handled.push(...batch.map((entry) => entry.value));
      },
      { batchSize: 5 },
    );
    await retried;
    await waitFor(async () => (await pendingCount(stream)) === 10, { what: 'the second batch read ahead' });
    await consumer.close();
    expect(await finished).toEqual({ reason: 'closed' });
    expect(handled).toEqual([]);
    expect(await pendingCount(stream)).toBe(10);
  });

  describe('entries holding several items (frames)', () => {
    /** A frame `f=<i,j,...>`: each item a number; `x` is an item that does not decode. */
    const decodeItems = (fields: string[]) => {
      if (fields[0] !== 'f') throw new InvalidEventError('f', 'is missing');
      return (fields[1] ?? '')
        .split(',')
        .map((item) =>
          /^\d+$/.test(item)
            ? { value: Number(item), fields: ['n', item] }
            : { error: `item ${item} is not a number`, fields: ['n', item] },
        );
    };

    it('handles every item in order, dead-letters a bad one alone, and acks each entry once all its items are settled', async () => {
      const stream = uniqueName('frames');
      await redis.xadd(stream, '*', 'f', '1,2,x,4');
      await redis.xadd(stream, '*', 'f', '5,6,7');
      await redis.xadd(stream, '*', 'f', 'y');
      await redis.xadd(stream, '*', 'g', 'whole entry unreadable');
      const seen: number[] = [];
      const batches: number[] = [];
      // Items in calls of at most 2 (batchSize), so an entry spans two calls; 6 is dead by the handler's word.
      const { consumer } = start(
        stream,
        async (batch) => {
          batches.push(batch.length);
          seen.push(...batch.map((entry) => entry.value));
          return batch.map((entry) => (entry.value === 6 ? { dead: 'six is refused' } : 'done'));
        },
        { decode: undefined, decodeItems, batchSize: 2 },
      );
      await waitFor(
        async () => (await redis.xlen(streamKeys(redis, stream).dead)) === 4 && (await pendingCount(stream)) === 0,
        {
          what: 'settled',
        },
      );
      expect(seen).toEqual([1, 2, 4, 5, 6, 7]);
      expect(Math.max(...batches)).toBeLessThanOrEqual(2);
      const dead = await readDeadLetters(redis, streamKeys(redis, stream).dead);
      expect(dead.map((letter) => [letter.reason, letter.fields])).toEqual([
        ['item x is not a number', ['n', 'x']],
        ['six is refused', ['n', '6']],
        ['item y is not a number', ['n', 'y']],
        ['invalid event: f is missing', ['g', 'whole entry unreadable']],
      ]);
      expect(consumer.stats()).toMatchObject({ acked: 4, deadLettered: 4 });
    });

    it('keeps an entry pending while one of its items is retried, and acks it once that item is done', async () => {
      const stream = uniqueName('frames');
      await redis.xadd(stream, '*', 'f', '1,2,3');
      let failuresLeft = 3;
      const handled: number[] = [];
      start(
        stream,
        async (batch) =>
          batch.map((entry) => {
            if (entry.value === 2 && failuresLeft-- > 0) return 'retry';
            handled.push(entry.value);
            return 'done';
          }),
        { decode: undefined, decodeItems },
      );
      await waitFor(() => handled.includes(2), { what: 'item 2 done' });
      await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'entry acked' });
      expect(handled).toEqual([1, 3, 2]);
    });
  });
});
