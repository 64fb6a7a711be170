import { type Env, env } from './config.ts';
import { LOG_LEVELS } from './logger.ts';
import { MAX_STREAM_PARTITIONS } from './partitions.ts';
import { hostPortList, sentinelList } from './redis-target.ts';

/** Settings every service shares (DESIGN.md "Configuration"); spread into a service's own spec. */
export const commonSettings = {
  redisUrl: env.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  /** Nodes of a Redis Cluster (`host:port,…`, some suffice); when set they win over the Sentinels and REDIS_URL's host. */
  redisClusterNodes: hostPortList('REDIS_CLUSTER_NODES', 'cluster nodes'),
  /** Sentinels that know the primary (`host:port,…`); when set they win over REDIS_URL's host. */
  redisSentinels: sentinelList('REDIS_SENTINELS'),
  redisMasterName: env.string('REDIS_MASTER_NAME', 'telemetry', { maxLength: 200 }),
  redisSentinelPassword: env.string('REDIS_SENTINEL_PASSWORD', undefined, { maxLength: 512 }),
  /** Replicas a door's write must reach before it is acknowledged (WAIT); default 1 with Sentinels or a cluster, 0 without. */
  redisMinReplicas: env.int('REDIS_MIN_REPLICAS', undefined, { min: 0, max: 16 }),
  /** How long a door waits for them (WAIT's timeout) before it answers 503 / withholds its acknowledgement. */
  redisWaitMs: env.int('REDIS_WAIT_MS', 1_000, { min: 1, max: 60_000 }),
  readingsStream: env.string('READINGS_STREAM', 'readings', { maxLength: 200 }),
  alertsStream: env.string('ALERTS_STREAM', 'alerts', { maxLength: 200 }),
  /** Partitions of the readings stream, by device (partitions.ts): fixed when the pipeline is created. */
  streamPartitions: env.int('STREAM_PARTITIONS', 1, { min: 1, max: MAX_STREAM_PARTITIONS }),
  /** Put before every key this pipeline uses, so that several pipelines can share one Redis. */
  keyPrefix: env.string('KEY_PREFIX', '', { maxLength: 100 }),
  logLevel: env.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
  /** How often workers write their heartbeat; it expires after five missed beats. */
  heartbeatIntervalMs: env.int('HEARTBEAT_INTERVAL_MS', 2_000, { min: 100, max: 60_000 }),
  /** Touched after every heartbeat that reached Redis: what a container's health check reads. */
  heartbeatFile: env.string('HEARTBEAT_FILE', undefined, { maxLength: 4_096 }),
  /** Readings per stream entry (a frame) when publishing; 1 writes one v2 entry per reading. */
  frameReadings: env.int('FRAME_READINGS', 500, { min: 1, max: 1_000 }),
  /** How long a clean stop may take before the process exits anyway (the producer's own default is 5 s). */
  shutdownTimeoutMs: env.int('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 0 }),
};

/** Where the API answers by default. */
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/**
 * The API a tool reads from: API_URL, or the first of its URLs when it lists several instances
 * (consumer-store's setting; any instance serves any read).
 */
export function apiUrlOf(environment: Env): string {
  return environment.API_URL?.split(',')[0]?.trim() || DEFAULT_API_URL;
}

/** Settings every consumer-group worker shares (consumer-store, consumer-alert). */
export const consumerSettings = {
  /** Unique per instance; default `<hostname>-<pid>`. */
  consumerName: env.string('CONSUMER_NAME', undefined, { maxLength: 200 }),
  claimIdleMs: env.int('CLAIM_IDLE_MS', 30_000, { min: 100 }),
  maxDeliveries: env.int('MAX_DELIVERIES', 10, { min: 1 }),
  statusIntervalMs: env.int('STATUS_INTERVAL_MS', 10_000, { min: 100 }),
};
