import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type Redis from 'ioredis';
import { KEY_LAYOUT, upgradeKeyLayout } from './key-layout.ts';
import { alertKeys, pipelineKeys, streamKeys } from './keys.ts';
import { createLogger } from './logger.ts';
import { clusterMasters } from './cluster-masters.ts';
import { createRedis } from './redis.ts';
import { readRedisMemory } from './redis-memory.ts';
import { type RedisCluster, startRedisCluster } from './testing/index.ts';

// Three masters, no replicas: what is asked of every node, on a real Redis Cluster.
let cluster: RedisCluster;
let redis: Redis;
beforeAll(async () => {
  cluster = await startRedisCluster({ replicasPerMaster: 0 });
  const nodes = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  redis = createRedis({ kind: 'cluster', nodes: nodes.slice(0, 1), tls: false }, { name: 'cluster-test' });
});
afterAll(async () => {
  redis.disconnect();
  await cluster.stop();
});

describe('on a Redis Cluster', () => {
  it('finds every master from one node, and reads the memory of the fullest', async () => {
    await redis.set('probe', '1');
    expect(clusterMasters(redis)).toHaveLength(3);
    const memory = await readRedisMemory(redis);
    expect(memory.usedBytes).toBeGreaterThan(0);
    expect(memory.policy).toBe('noeviction');
  });

  it('upgrades the key layout on every master: keys of layout 1 found by a SCAN of each', async () => {
    // Layout 1's names hash to slots all over the cluster; each key is copied whole to its new one.
    const states = Array.from({ length: 12 }, (_, i) => `rule-${i}`);
    for (const rule of states) await redis.hset(`alerts:state:${rule}`, 'pump-1', 'F,1,2');
    await redis.xadd('readings:dead', '*', 'reason', 'bad reading');
    const logger = createLogger({ service: 'test', level: 'error' });

    expect(await upgradeKeyLayout(redis, { readingsStream: 'readings', alertsStream: 'alerts' }, logger)).toBe(13);
    for (const rule of states)
      expect(await redis.hget(alertKeys(redis, 'alerts').thresholdState(rule), 'pump-1')).toBe('F,1,2');
    expect(await redis.xlen(streamKeys(redis, 'readings').dead)).toBe(1);
    expect(await redis.get(pipelineKeys.layout)).toBe(KEY_LAYOUT);
  });
});
