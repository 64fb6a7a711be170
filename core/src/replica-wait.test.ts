import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { createRedis } from './redis.ts';
import { ConnectionRenewedError, ReplicasBehindError, connectionGeneration, replicated } from './replica-wait.ts';
import { type RedisServer, startRedisServer, waitFor } from './testing/index.ts';

let primary: RedisServer;
let replica: RedisServer;
let redis: Redis;
/** A connection that gives up soon: only for the test where no replica can answer at all. */
let impatient: Redis;

beforeAll(async () => {
  primary = await startRedisServer({ cluster: false });
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  // A live replica answers WAIT in a moment, but a busy machine can take longer: a success is not
  // to hang on a few hundred milliseconds.
  redis = createRedis(
    { kind: 'url', url: primary.url, replicas: { minReplicas: 1, waitMs: 30_000 } },
    { name: 'replica-wait-test' },
  );
  impatient = createRedis(
    { kind: 'url', url: primary.url, replicas: { minReplicas: 1, waitMs: 300 } },
    { name: 'replica-wait-test-impatient' },
  );
  await waitFor(async () => (await redis.info('replication')).includes('state=online'), {
    what: 'the replica in sync',
  });
});
afterAll(async () => {
  redis?.disconnect();
  impatient?.disconnect();
  await replica?.stop();
  await primary?.stop();
});

describe('replicated', () => {
  it('answers what the write answered once a replica holds it', async () => {
    expect(await replicated(redis, () => redis.set('held', '1'))).toBe('OK');
  });

  it('counts a connection made again between the write and its WAIT as unconfirmed (the WAIT would ask another server)', async () => {
    const before = connectionGeneration(redis);
    const attempt = replicated(redis, async () => {
      const answer = await redis.set('renewed', '1');
      // As ioredis does on a Sentinel's +switch-master: the socket dropped and made again.
      redis.disconnect(true);
      await new Promise((resolve) => redis.once('ready', resolve));
      return answer;
    });
    await expect(attempt).rejects.toBeInstanceOf(ConnectionRenewedError);
    expect(connectionGeneration(redis)).toBe(before + 1);
  });

  it('refuses when no replica confirms in REDIS_WAIT_MS', async () => {
    replica.pause();
    try {
      await expect(replicated(impatient, () => impatient.set('alone', '1'))).rejects.toBeInstanceOf(
        ReplicasBehindError,
      );
    } finally {
      replica.resume();
    }
  });
});
