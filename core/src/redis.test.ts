import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createRedis, reconnectDelayMs } from './redis.ts';
import { type RedisServer, startRedisServer, waitFor } from './testing/index.ts';

describe('createRedis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server.stop());

  it('caps the reconnect delay and spreads it with jitter', () => {
    for (let attempt = 0; attempt < 100; attempt++) expect(reconnectDelayMs(attempt, 2_000)).toBeLessThanOrEqual(2_000);
    const late = new Set(Array.from({ length: 20 }, () => reconnectDelayMs(30, 2_000)));
    expect(late.size).toBeGreaterThan(1);
  });

  it('reconnects by itself after Redis is killed and restarted, keeping AOF data', async () => {
    const redis = createRedis(server.url, { name: 'test', maxReconnectDelayMs: 100 });
    try {
      await redis.set('survives', 'yes');
      // The AOF is fsynced every second; force it so the test does not depend on timing.
      await redis.call('BGREWRITEAOF');
      await waitFor(async () => (await redis.info('persistence')).includes('aof_rewrite_in_progress:0'));
      await server.kill();
      await waitFor(() => redis.status !== 'ready', { what: 'client to notice the crash' });
      await server.restart();
      // A queued command waits for the reconnect instead of failing.
      expect(await redis.get('survives')).toBe('yes');
    } finally {
      redis.disconnect();
    }
  });

  it('connects again when ioredis ends a connection in the middle of connecting (a failover detector racing a reconnect), fail-fast or not; one its owner closes stays closed', async () => {
    for (const failFast of [false, true]) {
      const redis = createRedis(server.url, { name: 'test', failFast });
      redis.on('error', () => {});
      // ioredis's own path: a disconnect(true) — what its Sentinel FailoverDetector and READONLY
      // handling do — while the connector connects makes connect() throw, and the status `end`.
      expect(redis.status).toBe('connecting');
      redis.disconnect(true);
      await waitFor(() => redis.status === 'ready', { what: `the connection back (failFast ${failFast})` });
      expect(await redis.ping()).toBe('PONG');
      redis.disconnect();
      await waitFor(() => redis.status === 'end', { what: 'the owner’s close' });
      await Bun.sleep(300);
      expect(redis.status).toBe('end');
    }
  });

  it('fails commands at once while disconnected when failFast is set', async () => {
    const redis = createRedis('redis://127.0.0.1:1', { name: 'fast', failFast: true });
    try {
      // Without failFast the command would wait for a connection that never comes.
      await expect(redis.ping()).rejects.toThrow();
    } finally {
      redis.disconnect();
    }
  });
});
