import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';
import type { RedisTarget } from './redis-target.ts';
import { setReplicaPolicy } from './replica-wait.ts';

export interface RedisConnectionOptions {
  /** Shown in `CLIENT LIST`, e.g. `producer` or `consumer-store:blocking`. */
  name: string;
  logger?: Logger;
  /**
   * Fail commands at once while disconnected instead of queueing them. For callers that keep their
   * own bounded buffer (the producer): ioredis's offline queue is unbounded. Default false.
   */
  failFast?: boolean;
  /** Longest wait between reconnect attempts. Default 2,000 ms. */
  maxReconnectDelayMs?: number;
  /** Fail a command that gets no answer in this time (a hung Redis). Default: wait. */
  commandTimeoutMs?: number;
  /**
   * KEY_PREFIX: put before every key of every command, scripts' KEYS included, by ioredis; this
   * pipeline's keys then never meet another's on a shared Redis. Default none.
   */
  keyPrefix?: string;
}

/**
 * Reconnect delay: capped exponential backoff with full jitter, so many workers that lost the same
 * Redis do not reconnect in lock-step. Never gives up: a 24/7 worker waits Redis out.
 */
export function reconnectDelayMs(attempt: number, maxDelayMs = 2_000): number {
  return backoffMs(attempt, 50, maxDelayMs);
}

/**
 * Capped exponential backoff with jitter: base × 2^attempt, at most maxMs, drawn from the upper
 * half so that it still grows but many clients spread out.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * An ioredis connection that reconnects forever. Use one per purpose: a blocking XREADGROUP holds
 * its connection, so workers open a second connection for blocking reads.
 *
 * ioredis 6 is chosen over 5: it keeps reconnecting when a connection drops during the handshake
 * (5.x could stop) and clears a stale socket timeout on reconnect. It speaks RESP2 here
 * (`protocol: 2`): under RESP3 a raw XREADGROUP reply is a map that arrives flattened
 * (`[stream, entries]` instead of `[[stream, entries]]`), and RESP2 is what Redis 7.0 and every
 * managed Redis speak the same way.
 */
/**
 * A connection per partition (each blocks on its own partition's reads): `name` for partition 0,
 * `name:<n>` for the others, so that CLIENT LIST tells them apart.
 */
export function createRedisPerPartition(
  target: RedisTarget | string,
  options: RedisConnectionOptions,
  partitions: number,
): Redis[] {
  return Array.from({ length: partitions }, (_, index) =>
    createRedis(target, { ...options, name: index === 0 ? options.name : `${options.name}:${index}` }),
  );
}

export function createRedis(target: RedisTarget | string, options: RedisConnectionOptions): Redis {
  const { name, logger, failFast = false, maxReconnectDelayMs = 2_000, commandTimeoutMs, keyPrefix } = options;
  const redisOptions: RedisOptions = {
    connectionName: name,
    protocol: 2,
    retryStrategy: (attempt) => reconnectDelayMs(attempt, maxReconnectDelayMs),
    // null: a command waits for the reconnect instead of failing after N attempts.
    maxRetriesPerRequest: failFast ? 0 : null,
    enableOfflineQueue: !failFast,
    // Re-run a command that was in flight when the connection dropped only for non-fail-fast users.
    autoResendUnfulfilledCommands: !failFast,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
    ...(keyPrefix ? { keyPrefix } : {}),
  };
  const resolved: RedisTarget = typeof target === 'string' ? { kind: 'url', url: target } : target;
  if (resolved.kind === 'cluster') {
    const cluster = clusterClient(resolved, redisOptions, options);
    // What the doors' writes must reach before they are acknowledged: a replica of their shard.
    setReplicaPolicy(cluster, resolved.replicas);
    return cluster;
  }
  const redis =
    resolved.kind === 'url'
      ? new Redis(resolved.url, redisOptions)
      : new Redis({ ...redisOptions, ...sentinelOptions(resolved, maxReconnectDelayMs) });
  // What the doors' writes on this connection must reach before they are acknowledged.
  setReplicaPolicy(redis, resolved.replicas);
  logStateChanges(redis, name, logger);
  keepConnected(redis, name, logger);
  return redis;
}

/** Logs state changes, not every failed reconnect attempt: a long outage must not flood the log. */
function logStateChanges(client: Redis | Cluster, name: string, logger?: Logger): void {
  let reportedDown = false;
  client.on('error', (error: Error) => {
    if (reportedDown) return;
    reportedDown = true;
    logger?.warn('redis_unavailable', { connection: name, error: error.message });
  });
  client.on('ready', () => {
    if (!reportedDown) return;
    reportedDown = false;
    logger?.info('redis_reconnected', { connection: name });
  });
}

/**
 * A Redis Cluster client (ioredis `Cluster`), typed as one Redis: the commands the pipeline sends
 * are the same, each routed to the node holding its key (keys used together share a slot:
 * keys.ts), and MOVED or ASK after a failover or a slot move followed. Commands without a key go
 * to any node: what must ask a given node (SCAN, INFO) asks each master (clusterMasters).
 */
function clusterClient(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  redisOptions: RedisOptions,
  options: RedisConnectionOptions,
): Redis {
  // Reconnecting, queueing and the prefix are the cluster's to do, not each node connection's.
  const { retryStrategy: _, enableOfflineQueue, keyPrefix, ...nodeOptions } = redisOptions;
  const cluster = new Cluster(
    target.nodes.map(({ host, port }) => ({ host, port })),
    {
      clusterRetryStrategy: (attempt) => reconnectDelayMs(attempt, options.maxReconnectDelayMs ?? 2_000),
      // Asks for the slots' owners every second: a master's death is otherwise learnt only from a
      // MOVED reply, and a client whose commands all failed against the dead node (it gives up
      // after its redirections) waited for one that never came.
      slotsRefreshInterval: 1_000,
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(keyPrefix ? { keyPrefix } : {}),
      redisOptions: {
        ...nodeOptions,
        ...(target.username ? { username: target.username } : {}),
        ...(target.password ? { password: target.password } : {}),
        ...(target.tls ? { tls: {} } : {}),
      },
    },
  );
  logStateChanges(cluster, options.name, options.logger);
  return cluster as unknown as Redis;
}

/**
 * Connects again when ioredis ends a connection nobody closed. In Sentinel mode ioredis 6 does so
 * when a failover's `+switch-master` reaches its FailoverDetector while a reconnect is asking the
 * Sentinels for the primary: the detector's `connector.disconnect()` makes the connector's
 * `connect()` throw "Connection is closed.", and `Redis#connect` then sets the status to `end`
 * for good — every command after fails the same way. Seen as a consumer reading nothing, and a
 * producer buffering for ever, while the rest of the pipeline went on. A close the owner asks for
 * (`disconnect`, `quit`) stays closed.
 */
function keepConnected(redis: Redis, name: string, logger?: Logger): void {
  let closing = false;
  const disconnect = redis.disconnect.bind(redis);
  const quit = redis.quit.bind(redis);
  redis.disconnect = (reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  };
  redis.quit = ((...args: Parameters<typeof quit>) => {
    closing = true;
    return quit(...args);
  }) as typeof redis.quit;
  redis.on('end', () => {
    if (closing) return;
    logger?.warn('redis_connection_ended_reconnecting', { connection: name });
    setTimeout(() => {
      if (!closing && redis.status === 'end') redis.connect().catch(() => {});
    }, 100);
  });
}

/**
 * ioredis's Sentinel mode: it asks the Sentinels for the primary, connects to it, and follows a
 * failover (the Sentinels' +switch-master, and a READONLY reply from a primary demoted under it:
 * reconnect, then the command is sent again to the new primary).
 */
function sentinelOptions(
  target: Extract<RedisTarget, { kind: 'sentinels' }>,
  maxReconnectDelayMs: number,
): RedisOptions {
  return {
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.masterName,
    role: 'master',
    failoverDetector: true,
    sentinelRetryStrategy: (attempt) => reconnectDelayMs(attempt, maxReconnectDelayMs),
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
}

/**
 * Runs `use` on a connection of its own to `host`:`port` that neither retries nor queues, closed
 * after: for one question to a server that may be down (a Sentinel, a probe at start, a test's
 * look at a node). Rejects when it cannot connect or answer within `timeoutMs`.
 */
export async function withShortConnection<T>(
  address: { host: string; port: number; password?: string },
  use: (client: Redis) => Promise<T>,
  timeoutMs = 500,
): Promise<T> {
  const client = new Redis({
    ...address,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** True when a Redis (or a Sentinel) at `host`:`port` answers PING. */
export function answersPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return withShortConnection({ host, port }, async (client) => (await client.ping()) === 'PONG').catch(() => false);
}

/** One field of an `INFO` reply (`name:value` lines), or undefined. */
export function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}
