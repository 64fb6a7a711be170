import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createConsumer, createLogger, createRedis, partitionStream } from 'core';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { evaluatorLease } from './evaluator-lease.ts';
import { evaluateWhileLeading } from './leading.ts';
import { partitionShare } from './partition-share.ts';

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
      partitions: [{ stream, lease: evaluatorLease(leaseRedis, key, 'this-instance', 60_000) }],
      redis: streamRedis,
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

  it('shares four partitions between two instances, each partition led by one, and takes them all back when one stops', async () => {
    const base = uniqueName('readings');
    const streams = [0, 1, 2, 3].map((index) => partitionStream(base, index));
    const shareKey = uniqueName('evaluators');
    const handled: string[] = [];
    const instance = (name: string) =>
      evaluateWhileLeading({
        partitions: streams.map((stream, index) => ({
          stream,
          lease: evaluatorLease(leaseRedis, `${base}:lease:${index}`, name, 1_000),
        })),
        share: partitionShare({ redis: leaseRedis, key: shareKey, instance: name, partitions: 4, ttlMs: 1_000 }),
        redis: streamRedis,
        group: 'alerts',
        consumerName: name,
        logger: quiet,
        renewEveryMs: 100,
        connectBlocking: () => createRedis(streamServer.url, { name: `leading-test:${name}` }),
        makeConsumer: (blockingRedis, stream) =>
          createConsumer({
            redis: streamRedis,
            blockingRedis,
            stream,
            group: 'alerts',
            consumer: name,
            decode: (fields) => fields[1] as string,
            handle: async (batch) => {
              handled.push(...batch.map((entry) => entry.value));
            },
            logger: quiet,
            blockMs: 100,
          }),
      });
    const publish = async (tag: string) => {
      const sent: string[] = [];
      for (const stream of streams)
        for (let n = 0; n < 50; n++) {
          sent.push(`${tag}-${stream}-${n}`);
          await streamRedis.xadd(stream, '*', 'n', `${tag}-${stream}-${n}`);
        }
      return sent;
    };
    const a = instance('instance-a');
    const runningA = a.run();
    const b = instance('instance-b');
    let runningB: Promise<unknown> | undefined;
    try {
      await waitFor(() => a.partitionsLed().length === 4, { what: 'the only instance leading every partition' });
      const first = await publish('alone');
      runningB = b.run();
      await waitFor(() => a.partitionsLed().length === 2 && b.partitionsLed().length === 2, {
        timeoutMs: 20_000,
        what: 'two partitions each',
      });
      expect([...a.partitionsLed(), ...b.partitionsLed()].sort()).toEqual([0, 1, 2, 3]);
      const second = await publish('shared');
      await waitFor(() => handled.length >= first.length + second.length, { what: 'every entry handled' });
      await b.close();
      await waitFor(() => a.partitionsLed().length === 4, { timeoutMs: 20_000, what: 'the partitions taken back' });
      const third = await publish('back');
      const all = [...first, ...second, ...third];
      await waitFor(() => handled.length >= all.length, { what: 'every entry handled' });
      // Each once: a partition handed over finishes and acknowledges its batch before its lease goes.
      expect([...handled].sort()).toEqual([...all].sort());
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([runningA, runningB]);
    }
  }, 60_000);
});
