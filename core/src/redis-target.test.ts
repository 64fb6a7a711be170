import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type RedisHa, freePort, startRedisHa, waitFor } from './testing/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createRedis } from './redis.ts';
import { checkSentinels, redisTargetOf } from './redis-target.ts';
import { commonSettings } from './settings.ts';

describe('REDIS_SENTINELS', () => {
  it('is host:port entries, each named when wrong, and wins over REDIS_URL', () => {
    const settings = loadConfig(commonSettings, {
      REDIS_URL: 'rediss://app:s3cret@ignored:6379',
      REDIS_SENTINELS: 'a.example:26379, [::1]:26380',
      REDIS_MASTER_NAME: 'main',
    });
    expect(redisTargetOf(settings)).toEqual({
      kind: 'sentinels',
      sentinels: [
        { host: 'a.example', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'main',
      username: 'app',
      password: 's3cret',
      tls: true,
      replicas: { minReplicas: 1, waitMs: 1_000 },
    });
    expect(redisTargetOf(loadConfig(commonSettings, {}))).toEqual({ kind: 'url', url: 'redis://127.0.0.1:6379' });
    for (const [raw, message] of [
      ['a.example', 'entry 1 must be host:port'],
      ['a:1,b:99999', 'entry 2 must be host:port'],
      [',', 'must name at least one host:port'],
    ] as const) {
      expect(() => loadConfig(commonSettings, { REDIS_SENTINELS: raw })).toThrow(message);
    }
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  it('names some nodes of a Redis Cluster and wins over the Sentinels and REDIS_URL, whose credentials it keeps', () => {
    const settings = loadConfig(commonSettings, {
      REDIS_URL: 'redis://app:s3cret@ignored:6379',
      REDIS_SENTINELS: 'a.example:26379',
      REDIS_CLUSTER_NODES: 'n1.example:7000,n2.example:7001',
      REDIS_MIN_REPLICAS: '0',
    });
    expect(redisTargetOf(settings)).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1.example', port: 7000 },
        { host: 'n2.example', port: 7001 },
      ],
      username: 'app',
      password: 's3cret',
      tls: false,
    });
    expect(() => loadConfig(commonSettings, { REDIS_CLUSTER_NODES: 'n1.example' })).toThrow(
      'entry 1 must be host:port',
    );
  });

  it('acknowledges a write once a replica of its shard holds it, unless REDIS_MIN_REPLICAS says otherwise', () => {
    const settings = loadConfig(commonSettings, { REDIS_CLUSTER_NODES: 'n1.example:7000', REDIS_WAIT_MS: '500' });
    expect(redisTargetOf(settings)).toMatchObject({ kind: 'cluster', replicas: { minReplicas: 1, waitMs: 500 } });
  });
});

describe('through Sentinels', () => {
  let ha: RedisHa;
  beforeAll(async () => {
    // What is tested here is the client following the primary: writes are not held back for replicas.
    ha = await startRedisHa({ minReplicasToWrite: 0 });
  }, 60_000);
  afterAll(async () => {
    await ha?.stop();
  });
  const target = () => redisTargetOf(loadConfig(commonSettings, { REDIS_SENTINELS: ha.sentinelList }));

  it('stops a start naming the setting: no Sentinel answers, or none knows the primary', async () => {
    const closed = await freePort();
    const refused = checkSentinels(
      { kind: 'sentinels', sentinels: [{ host: '127.0.0.1', port: closed }], masterName: 'telemetry', tls: false },
      1_000,
    );
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow('REDIS_SENTINELS: no Sentinel answers');
    await expect(
      checkSentinels({
        ...(target() as Extract<ReturnType<typeof target>, { kind: 'sentinels' }>),
        masterName: 'nobody',
      }),
    ).rejects.toThrow('REDIS_MASTER_NAME');
    const primary = await ha.primary();
    expect(await checkSentinels(target() as Extract<ReturnType<typeof target>, { kind: 'sentinels' }>)).toEqual({
      host: '127.0.0.1',
      port: primary.port,
    });
  });

  it('follows the primary through a failover: writes go on at the promoted replica', async () => {
    const redis = createRedis(target(), { name: 'ha-test', failFast: true, commandTimeoutMs: 2_000 });
    try {
      await waitFor(() => redis.status === 'ready', { what: 'connected through the Sentinels' });
      await redis.xadd('ha-stream', '*', 'n', '1');
      const before = await ha.primary();
      await before.kill('SIGKILL');
      const after = await ha.failedOver(before);
      expect(after).not.toBe(before);
      let lastError = '';
      await waitFor(
        async () =>
          redis.xadd('ha-stream', '*', 'n', '2').then(
            () => true,
            (error: Error) => {
              lastError = error.message;
              return false;
            },
          ),
        { what: 'a write at the new primary', timeoutMs: 30_000 },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; the last write failed with: ${lastError}`);
      });
      expect(((await redis.call('ROLE')) as [string])[0]).toBe('master');
      expect(await redis.xlen('ha-stream')).toBeGreaterThanOrEqual(1);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
