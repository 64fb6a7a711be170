import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createConsumer, createLogger, createRedis } from 'core';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { evaluatorLease } from './evaluator-lease.ts';
import { evaluateWhileLeading } from './leading.ts';

// The lease on one Redis and the stream on another, so that the lease can be lost while the
// stream's Redis does not answer: what a cluster master's failover does to an evaluator.
let leaseServer: RedisServer;
let streamServer: RedisServer;
let leaseRedis: Redis;
let streamRedis: Redis;

beforeAll(async () => {
  [leaseServer, streamServer] = await Promise.all([
    startRedisServer({ cluster: false }),
    startRedisServer({ cluster: false }),
  ]);
  leaseRedis = createRedis(leaseServer.url, { name: 'leading-test:lease' });
  streamRedis = createRedis(streamServer.url, { name: 'leading-test' });
});
afterAll(async () => {
  leaseRedis.disconnect();
  streamRedis.disconnect();
  await Promise.all([leaseServer.stop(), streamServer.stop()]);
});

const quiet = createLogger({ service: 'test', level: 'error', pretty: false, write: () => {} });

describe('evaluateWhileLeading', () => {
  it('leads again after losing its lease while the stream’s Redis did not answer, and reads on', async () => {
    const stream = uniqueName('readings');
    const key = uniqueName('lease');
    const handled: string[] = [];
    const leading = evaluateWhileLeading({
      lease: evaluatorLease(leaseRedis, key, 'this-instance', 60_000),
      redis: streamRedis,
      streams: [stream],
      group: 'alerts',
      consumerName: 'this-instance',
      logger: quiet,
      renewEveryMs: 100,
      connectBlocking: () => createRedis(streamServer.url, { name: 'leading-test:blocking' }),
      makeConsumer: (blockingRedis) =>
        createConsumer({
          redis: streamRedis,
          blockingRedis,
          stream,
          group: 'alerts',
          consumer: 'this-instance',
          decode: (fields) => fields[1] as string,
          handle: async (batch) => {
            handled.push(...batch.map((entry) => entry.value));
          },
          logger: quiet,
          blockMs: 100,
        }),
    });
    const running = leading.run();
    try {
      await streamRedis.xadd(stream, '*', 'n', 'before');
      await waitFor(() => handled.includes('before'), { what: 'the first entry handled' });

      // The stream's Redis stops answering, with a read waiting on it, and the lease is lost:
      // the consumer closes, cutting its read's connection.
      streamServer.pause();
      await leaseRedis.set(key, 'another-instance');
      await waitFor(() => !leading.leading(), { timeoutMs: 20_000, what: 'the consumer closed' });

      // The lease is free again and the stream's Redis answers: this instance leads and reads on.
      await leaseRedis.del(key);
      streamServer.resume();
      await streamRedis.xadd(stream, '*', 'n', 'after');
      await waitFor(() => handled.includes('after'), { timeoutMs: 20_000, what: 'the entry added after' });
      expect(handled).toEqual(['before', 'after']);
    } finally {
      streamServer.resume();
      await leading.close();
      await running;
    }
  }, 60_000);
});
