import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';

/**
 * The masters of a Redis Cluster client (createRedis with REDIS_CLUSTER_NODES), for what must ask
 * each shard rather than any node: SCAN, INFO, WAIT. Undefined for one Redis.
 */
export function clusterMasters(redis: Redis): Redis[] | undefined {
  const maybe = redis as unknown as Partial<Pick<Cluster, 'nodes' | 'isCluster'>>;
  return maybe.isCluster && maybe.nodes ? maybe.nodes('master') : undefined;
}
