/**
 * The whole pipeline on this machine for one benchmark scenario: its own redis-server (AOF
 * everysec), the API on a fresh SQLite file (WAL) or a PostgreSQL server of its own, with one or
 * more API instances, consumer-store and consumer-alert, each its own process on free ports, as
 * in production. Also reads each process's CPU time and peak RSS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commonSettings,
  createRedis,
  groupsCaughtUp,
  loadConfig,
  readGroups,
  readingStreams,
  redisTargetOf,
} from 'core';
import {
  type PostgresServer,
  type RedisHa,
  type RedisServer,
  type ServiceProcess,
  freePort,
  startPostgresServer,
  startRedisCluster,
  startRedisHa,
  startRedisServer,
  startService,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import { type ReadingsStore, openStore, storedRows } from '../storage.ts';
import { type ProcessUsage, processTreeUsage, processUsage, profileFlags, spawnApi } from '../support.ts';

export const root = join(import.meta.dir, '../../..');
export const TOKEN = 'bench';

export type Backend = 'sqlite' | 'postgres';

export interface StackOptions {
  backend?: Backend;
  /** API instances over the one database (PostgreSQL only past 1); consumer-store spreads over them. */
  apiInstances?: number;
  /** A Redis primary, two replicas and three Sentinels: every service through the Sentinels, doors WAITing for a replica. */
  ha?: boolean;
  /** A Redis Cluster of three masters, a replica each (REDIS_CLUSTER_NODES, WAIT 1 per shard). */
  cluster?: boolean;
  /** STREAM_PARTITIONS: the readings stream in this many partitions. Default 1. */
  partitions?: number;
  /** consumer-alert instances sharing the partitions. Default 1. */
  alertInstances?: number;
}

export interface Stack {
  redis: Redis;
  redisUrl: string;
  /** With `ha`: the primary, replicas and Sentinels (a scenario may kill the primary). */
  ha?: RedisHa;
  /** The readings stream's partitions (one without STREAM_PARTITIONS). */
  partitions: readonly string[];
  /** The first API's base URL and process id. */
  api: { url: string; pid: number };
  /** The database, through the API's storage port. */
  store: ReadingsStore;
  /** CPU time and memory of each process under test, by service name. */
  usage(): Promise<Record<string, ProcessUsage>>;
  /** Rows stored, distinct ids and every row's lead time, read through the storage port. */
  stored(): ReturnType<typeof storedRows>;
  /** When the newest row was committed. */
  lastStoredAt(): Promise<number>;
  /** True once each group has read up to the stream's newest entry and acknowledged everything. */
  drained(groups: readonly string[]): Promise<boolean>;
  startProducer(env: Record<string, string>): ServiceProcess;
  stop(): Promise<void>;
}

export async function startStack(extraEnv: Record<string, string> = {}, options: StackOptions = {}): Promise<Stack> {
  const { backend = 'sqlite', apiInstances = 1 } = options;
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
  const ha = options.ha ? await startRedisHa() : undefined;
  const cluster = options.cluster ? await startRedisCluster() : undefined;
  const redisServer = ha
    ? (ha.servers[0] as RedisServer)
    : cluster
      ? (cluster.nodes[0] as RedisServer)
      : await startRedisServer({ fsync: 'everysec', cluster: false });
  const partitions = readingStreams('readings', options.partitions ?? 1).streams;
  const redisEnv: Record<string, string> = {
    REDIS_URL: redisServer.url,
    ...(ha ? { REDIS_SENTINELS: ha.sentinelList } : {}),
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodeList } : {}),
    ...(options.partitions ? { STREAM_PARTITIONS: String(options.partitions) } : {}),
  };
  const redis = createRedis(redisTargetOf(loadConfig(commonSettings, redisEnv)), { name: 'bench' });
  let postgres: PostgresServer | undefined;
  // fsync on, as in production: each commit waits for its WAL to reach the disk.
  if (backend === 'postgres') postgres = await startPostgresServer({ fsync: true });
  const databaseUrl = postgres ? await postgres.createDatabase('bench') : join(dir, 'bench.db');
  const apis: Array<Awaited<ReturnType<typeof spawnApi>>> = [];
  for (let i = 0; i < apiInstances; i++) {
    apis.push(await spawnApi({ port: await freePort(), databaseUrl, token: TOKEN, env: { ...redisEnv, ...extraEnv } }));
  }
  const first = apis[0] as (typeof apis)[number];
  const env = {
    ...redisEnv,
    API_URL: apis.map((api) => api.url).join(','),
    API_TOKEN: TOKEN,
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const store = startService(join(root, 'consumer-store/src/index.ts'), env, profileFlags);
  const alerts = Array.from({ length: options.alertInstances ?? 1 }, (_, i) =>
    startService(
      join(root, 'consumer-alert/src/index.ts'),
      i === 0 ? env : { ...env, CONSUMER_NAME: `bench-alert-${i + 1}` },
      profileFlags,
    ),
  );
  const readings = await openStore(databaseUrl);
  const pids = () => ({
    redis: redisServer.pid,
    ...Object.fromEntries((ha?.servers ?? []).slice(1).map((replica, i) => [`redis-replica-${i + 1}`, replica.pid])),
    ...Object.fromEntries((cluster?.nodes ?? []).slice(1).map((node, i) => [`redis-node-${i + 2}`, node.pid])),
    ...Object.fromEntries(apis.map((api, i) => [i === 0 ? 'api' : `api-${i + 1}`, api.pid])),
    ...(postgres ? { postgres: postgres.pid } : {}),
    'consumer-store': store.pid,
    ...Object.fromEntries(
      alerts.map((alert, i) => [i === 0 ? 'consumer-alert' : `consumer-alert-${i + 1}`, alert.pid]),
    ),
  });
  const stack: Stack = {
    redis,
    redisUrl: redisServer.url,
    ha,
    partitions,
    api: { url: first.url, pid: first.pid },
    store: readings,
    async usage() {
      const entries = await Promise.all(
        Object.entries(pids()).map(
          async ([name, pid]) =>
            [name, await (name === 'postgres' ? processTreeUsage(pid) : processUsage(pid))] as const,
        ),
      );
      return Object.fromEntries(entries);
    },
    stored: () => storedRows(readings),
    lastStoredAt: async () => (await readings.recentChanges(1))[0]?.storedAt ?? Date.now(),
    drained: async (names) =>
      (await Promise.all(partitions.map((stream) => groupsCaughtUp(redis, stream, names)))).every(Boolean),
    // Uniform values: the load every earlier run measured (with VALUE_MAX 51, ~2% over the threshold).
    startProducer: (producerEnv) =>
      startService(
        join(root, 'producer/src/index.ts'),
        { ...env, DEVICES: '1000', PATTERN: 'uniform', ...producerEnv },
        profileFlags,
      ),
    async stop() {
      await readings.close();
      await Promise.all([store.kill('SIGTERM'), ...alerts.map((alert) => alert.kill('SIGTERM'))]);
      for (const api of apis) await api.stop();
      redis.disconnect();
      if (ha) await ha.stop();
      else if (cluster) await cluster.stop();
      else await redisServer.stop();
      await postgres?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  // Both groups exist on every partition before the first reading, so neither starts late at "$".
  const grouped = async (stream: string) => (await readGroups(redis, stream).catch(() => [])).length >= 2;
  await waitFor(async () => (await Promise.all(partitions.map(grouped))).every(Boolean), {
    timeoutMs: 20_000,
    what: 'consumer groups',
  });
  return stack;
}
