/**
 * Doors with replicas (REDIS_SENTINELS, REDIS_MIN_REPLICAS 1): a write is acknowledged only once
 * a replica holds it. With the replicas gone, POST /ingest answers 503 (the primary's own
 * min-replicas-to-write refuses it, or WAIT times out) and acknowledges again once one is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type RedisTarget, commonSettings, createLogger, createRedis, loadConfig, redisTargetOf } from 'core';
import { type RedisHa, startRedisHa, streamReadings, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../api/src/app.ts';
import { startReplicationWatch } from '../api/src/modules/system/replication.ts';
import { TEST_TOKEN, testStore } from '../api/src/test-helpers.ts';

const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

let ha: RedisHa;
let redis: Redis;
let target: RedisTarget;

beforeAll(async () => {
  ha = await startRedisHa();
  // Long enough for a live replica on a busy machine; a refusal comes from the replicas' absence.
  target = redisTargetOf(loadConfig(commonSettings, { REDIS_SENTINELS: ha.sentinelList, REDIS_WAIT_MS: '2000' }));
  redis = createRedis(target, { name: 'replicas-test', failFast: true, commandTimeoutMs: 2_000 });
  await waitFor(() => redis.status === 'ready', { what: 'Redis through the Sentinels' });
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await ha?.stop();
});

describe('a door with REDIS_MIN_REPLICAS 1', () => {
  it('acknowledges only what a replica holds: 503 while none is there, 202 again once one is back', async () => {
    const stream = uniqueName('readings');
    const app = createApp({
      store: testStore(),
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: quiet,
      ingest: { redis, stream },
    });
    const reading = { deviceId: 'pump-1', metric: 'kwh', value: 1, unit: 'kWh', ts: new Date().toISOString() };
    const ingest = () =>
      app.handle(
        new Request('http://localhost/ingest', {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(reading),
        }),
      );
    expect((await ingest()).status).toBe(202);

    const primary = await ha.primary();
    const replicas = ha.servers.filter((server) => server !== primary);
    await Promise.all(replicas.map((replica) => replica.kill('SIGKILL')));
    const refused = await waitFor(
      async () => {
        const response = await ingest();
        return response.status === 503 && response;
      },
      { what: 'a 503 with the replicas gone', timeoutMs: 30_000 },
    );
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.text()).toMatch(/replicas/i);

    await Promise.all(replicas.map((replica) => replica.restart()));
    await waitFor(async () => (await ingest()).status === 202, { what: 'acknowledged again', timeoutMs: 30_000 });
    // The same request sent again after the 503s is one reading, not several: its id is made from it.
    const readings = await streamReadings(redis, stream);
    expect(readings.length).toBeGreaterThanOrEqual(2);
    expect(new Set(readings.map((stored) => stored.id)).size).toBe(1);
  }, 60_000);
});

describe('/health with replicas', () => {
  it('shows the replicas and is degraded while fewer than REDIS_MIN_REPLICAS are in sync', async () => {
    const replication = startReplicationWatch({ redis, target, intervalMs: 100 });
    try {
      const app = createApp({
        store: testStore(),
        config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
        logger: quiet,
        pipeline: { redis, streams: [uniqueName('readings')], expectedWorkers: [], lagDegraded: 1_000, replication },
      });
      const health = async () =>
        (await (await app.handle(new Request('http://localhost/health'))).json()) as {
          status: string;
          reasons: string[];
          checks: {
            redis: {
              replication?: {
                inSync: number;
                minReplicas: number;
                replicas: unknown[];
                sentinels?: Array<{ answers: boolean; primary?: string }>;
              };
            };
          };
        };
      const ok = await waitFor(
        async () => {
          const current = await health();
          return current.checks.redis.replication?.inSync === 2 && current;
        },
        { what: 'two replicas in sync' },
      );
      expect(ok.status).toBe('ok');
      expect(ok.checks.redis.replication).toMatchObject({
        minReplicas: 1,
        replicas: [expect.anything(), expect.anything()],
      });
      const primaryNow = await ha.primary();
      expect(ok.checks.redis.replication?.sentinels?.map((sentinel) => [sentinel.answers, sentinel.primary])).toEqual(
        ha.sentinels.map(() => [true, `127.0.0.1:${primaryNow.port}`]),
      );
      const metrics = await (await app.handle(new Request('http://localhost/metrics'))).text();
      expect(metrics).toMatch(/^pipeline_redis_replicas\{state="in_sync"\} 2$/m);

      const primary = await ha.primary();
      const replicas = ha.servers.filter((server) => server !== primary);
      await Promise.all(replicas.map((replica) => replica.kill('SIGKILL')));
      const degraded = await waitFor(
        async () => {
          const current = await health();
          return current.status === 'degraded' && current;
        },
        { what: '/health degraded without replicas' },
      );
      expect(degraded.reasons.join(' ')).toContain('Redis replicas REDIS_MIN_REPLICAS asks for are in sync');
      await Promise.all(replicas.map((replica) => replica.restart()));
      await waitFor(async () => (await health()).status === 'ok', {
        what: '/health ok with the replicas back',
        timeoutMs: 30_000,
      });

      // Two of three Sentinels gone: no majority, no failover possible — said, not hidden.
      await Promise.all(ha.sentinels.slice(1).map((sentinel) => sentinel.kill()));
      const noQuorum = await waitFor(
        async () => {
          const current = await health();
          return current.status === 'degraded' && current;
        },
        { what: '/health degraded without a majority of Sentinels' },
      );
      expect(noQuorum.reasons.join(' ')).toContain('only 1 of 3 Sentinels answer');
    } finally {
      replication.stop();
    }
  }, 60_000);
});
