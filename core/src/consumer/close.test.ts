import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { createLogger } from '../logger.ts';
import { createRedis } from '../redis.ts';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '../testing/index.ts';
import { createConsumer } from './consumer.ts';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  // A one-node Redis Cluster: its client, between connections, queues a read where no cut of a
  // socket reaches it.
  server = await startRedisServer();
  redis = createRedis(clusterTarget(), { name: 'close-test' });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const clusterTarget = () => ({
  kind: 'cluster' as const,
  nodes: [{ host: '127.0.0.1', port: server.port }],
  tls: false,
});
const quiet = createLogger({ service: 'test', level: 'error', pretty: false, write: () => {} });

describe('closing a consumer', () => {
  it('ends while its read waits for a Redis Cluster that is away', async () => {
    const stream = uniqueName('s');
    const blocking = createRedis(clusterTarget(), { name: 'close-test:blocking' });
    const seen: string[] = [];
    const consumer = createConsumer({
      redis,
      blockingRedis: blocking,
      stream,
      group: 'g',
      decode: (fields) => fields[1] as string,
      handle: async (batch) => {
        seen.push(...batch.map((entry) => entry.value));
      },
      logger: quiet,
      blockMs: 100,
      retryBaseMs: 10,
      retryMaxMs: 50,
    });
    const finished = consumer.run();
    try {
      await redis.xadd(stream, '*', 'n', 'first');
      await waitFor(() => seen.includes('first'), { what: 'the first entry' });

      await server.kill();
      await waitFor(() => blocking.status !== 'ready', { what: 'the cluster client between connections' });
      // Long enough for the client to queue the next read while it reconnects.
      await Bun.sleep(500);

      const closed = await Promise.race([
        consumer.close().then(() => 'closed'),
        Bun.sleep(20_000).then(() => 'still closing after 20 s'),
      ]);
      expect(closed).toBe('closed');
      expect(await finished).toEqual({ reason: 'closed' });
    } finally {
      blocking.disconnect();
      await server.restart();
    }
  }, 60_000);
});
