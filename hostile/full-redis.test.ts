/**
 * A full Redis (maxmemory, noeviction), as a hostile flood or a long consumer outage makes it:
 * the doors must stop taking readings while the consumers still have room to drain, and the
 * pipeline must heal by itself once they run — nobody raises the limit. Before, the doors filled
 * Redis to the last byte and the consumers, which need memory to consume (alerts, states, dead
 * letters), could never drain it: 281,999 acknowledged readings stayed unstored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createLogger, createRedis, nearlyFull, readRedisMemory } from 'core';
import { type RedisServer, startRedisServer, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../api/src/app.ts';
import { TEST_TOKEN, testStore } from '../api/src/test-helpers.ts';
import { runScenario } from '../faults/harness.ts';

describe('a full Redis', () => {
  it('is an outage that heals: doors wait, consumers drain, every acknowledged reading is stored once', async () => {
    // No value crosses the threshold: under memory pressure the alerts stream is trimmed to what
    // its groups still need, and the checker reads the transitions from that stream.
    let sawFull = false;
    await runScenario(
      { workload: { readings: 120_000, devices: 200, overShare: 0 }, rate: 60_000, redisMaxMemory: '8mb' },
      async (pipeline) => {
        // The consumers are away: the backlog grows until Redis is nearly full.
        await pipeline.kill('consumer-store');
        await pipeline.kill('consumer-alert');
        await waitFor(
          async () =>
            nearlyFull(await readRedisMemory(pipeline.redis)) &&
            pipeline.services.get('producer')?.output().includes('nearly full'),
          { what: 'Redis nearly full', timeoutMs: 60_000 },
        );
        sawFull = true;
        const health = (await (await fetch(`${pipeline.apiUrls[0]}/health`)).json()) as { reasons: string[] };
        expect(health.reasons.join(' ')).toContain('Redis is nearly full');
        await pipeline.start('consumer-store');
        await pipeline.start('consumer-alert');
      },
    );
    expect(sawFull).toBe(true);
  }, 240_000);
});

describe('the doors of a nearly full Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer({ maxMemory: '8mb' });
    redis = createRedis(server.url, { name: 'hostile-full', failFast: true });
    await waitFor(() => redis.status === 'ready', { what: 'Redis' });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('answer 503 naming it, and take readings again once there is room', async () => {
    const stream = uniqueName('readings');
    const app = createApp({
      store: testStore(),
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
      ingest: { redis, stream },
      pipeline: { redis, streams: [stream], expectedWorkers: [], lagDegraded: 1_000 },
    });
    const ingest = () =>
      app.handle(
        new Request('http://localhost/ingest', {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            deviceId: 'pump-1',
            metric: 'kwh',
            value: 1,
            unit: 'kWh',
            ts: new Date().toISOString(),
          }),
        }),
      );
    expect((await ingest()).status).toBe(202);
    // Something else fills Redis to 95% of its maxmemory.
    const filler = uniqueName('filler');
    for (let i = 0; (await readRedisMemory(redis)).usedBytes < 0.95 * 8 * 1024 * 1024; i++)
      await redis.set(`${filler}:${i}`, 'x'.repeat(64 * 1024));
    const refused = await ingest();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.text()).toContain('Redis is nearly full');
    const health = (await (await app.handle(new Request('http://localhost/health'))).json()) as {
      reasons: string[];
      checks: { redis: { memory: { maxBytes: number } } };
    };
    expect(health.reasons.join(' ')).toContain('Redis is nearly full');
    expect(health.checks.redis.memory.maxBytes).toBe(8 * 1024 * 1024);
    expect(await redis.xlen(stream)).toBe(1);

    for (const key of await redis.keys(`${filler}:*`)) await redis.del(key);
    expect((await ingest()).status).toBe(202);
    expect(await redis.xlen(stream)).toBe(2);
  });
});
