import { ConfigError, type Setting } from './config.ts';
import { withShortConnection } from './redis.ts';

/**
 * Where the pipeline's Redis is: one server (`REDIS_URL`), a primary found through Sentinels
 * (`REDIS_SENTINELS` with `REDIS_MASTER_NAME`), which follow it through failovers, or a Redis
 * Cluster (`REDIS_CLUSTER_NODES`: some of its nodes; the client learns the rest and follows
 * failovers and slot moves). The cluster wins over the Sentinels, and both over `REDIS_URL`, whose
 * user, password and TLS then apply to the data nodes (`rediss://user:password@…`; its host is
 * not used); the Sentinels' password comes from `REDIS_SENTINEL_PASSWORD`.
 */
export type RedisTarget = (
  | { kind: 'url'; url: string }
  | {
      kind: 'cluster';
      nodes: ReadonlyArray<{ host: string; port: number }>;
      username?: string;
      password?: string;
      tls: boolean;
    }
  | {
      kind: 'sentinels';
      sentinels: ReadonlyArray<{ host: string; port: number }>;
      masterName: string;
      sentinelPassword?: string;
      username?: string;
      password?: string;
      tls: boolean;
    }
) & {
  /**
   * What a door's write must reach before it is acknowledged: `WAIT minReplicas waitMs`
   * (REDIS_MIN_REPLICAS, default 1 with Sentinels or a cluster and 0 without; REDIS_WAIT_MS, default 1,000).
   */
  replicas?: ReplicaPolicy;
};

export interface ReplicaPolicy {
  minReplicas: number;
  waitMs: number;
}

export interface RedisTargetSettings {
  redisUrl: string;
  redisClusterNodes?: ReadonlyArray<{ host: string; port: number }>;
  redisSentinels: ReadonlyArray<{ host: string; port: number }>;
  redisMasterName: string;
  redisSentinelPassword?: string;
  redisMinReplicas?: number;
  redisWaitMs?: number;
}

/** The target a service's settings name. */
export function redisTargetOf(settings: RedisTargetSettings): RedisTarget {
  if (settings.redisClusterNodes && settings.redisClusterNodes.length > 0) return clusterTarget(settings);
  const minReplicas = settings.redisMinReplicas ?? (settings.redisSentinels.length > 0 ? 1 : 0);
  const replicas = minReplicas > 0 ? { replicas: { minReplicas, waitMs: settings.redisWaitMs ?? 1_000 } } : {};
  if (settings.redisSentinels.length === 0) return { kind: 'url', url: settings.redisUrl, ...replicas };
  const url = new URL(settings.redisUrl);
  return {
    ...replicas,
    kind: 'sentinels',
    sentinels: settings.redisSentinels,
    masterName: settings.redisMasterName,
    ...(settings.redisSentinelPassword ? { sentinelPassword: settings.redisSentinelPassword } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    tls: url.protocol === 'rediss:',
  };
}

/**
 * A Redis Cluster: as with Sentinels, a door's write is acknowledged once REDIS_MIN_REPLICAS
 * replicas of its shard hold it (default 1; 0 for a cluster without replicas).
 */
function clusterTarget(settings: RedisTargetSettings): RedisTarget {
  const minReplicas = settings.redisMinReplicas ?? 1;
  const url = new URL(settings.redisUrl);
  return {
    ...(minReplicas > 0 ? { replicas: { minReplicas, waitMs: settings.redisWaitMs ?? 1_000 } } : {}),
    kind: 'cluster',
    nodes: settings.redisClusterNodes ?? [],
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    tls: url.protocol === 'rediss:',
  };
}

/** `REDIS_SENTINELS`: `host:port,host:port,…` (IPv6 as `[::1]:26379`); empty: no Sentinels. */
export function sentinelList(key: string): Setting<ReadonlyArray<{ host: string; port: number }>> {
  return hostPortList(key, 'Sentinels');
}

/** `host:port,host:port,…` (IPv6 as `[::1]:6379`), at most 32 `what`; empty: none. */
export function hostPortList(key: string, what: string): Setting<ReadonlyArray<{ host: string; port: number }>> {
  return {
    key,
    fallback: [],
    parse(raw) {
      const entries = raw
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean);
      if (entries.length === 0) throw new Error('must name at least one host:port');
      if (entries.length > 32) throw new Error(`must name at most 32 ${what}`);
      return Object.freeze(
        entries.map((entry, index) => {
          const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(entry);
          const port = Number(match?.[2]);
          if (!match || port < 1 || port > 65_535)
            throw new Error(`entry ${index + 1} must be host:port (a port from 1 to 65535)`);
          return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
        }),
      );
    },
  };
}

/** What one Sentinel says of the primary it watches under `masterName`. */
export interface SentinelAnswer {
  address: string;
  answers: boolean;
  /** The primary it names; undefined when it answers but watches no primary by that name. */
  primary?: { host: string; port: number };
  /** Its flags for the primary (`master`, `s_down`, `o_down`, `failover_in_progress`…). */
  flags?: string;
  /** Why it did not answer. */
  error?: string;
}

/** Asks one Sentinel (`SENTINEL master <name>`), over a short connection of its own. */
export async function askSentinel(
  sentinel: { host: string; port: number },
  target: Extract<RedisTarget, { kind: 'sentinels' }>,
  timeoutMs = 500,
): Promise<SentinelAnswer> {
  const address = `${sentinel.host}:${sentinel.port}`;
  try {
    return await withShortConnection(
      { ...sentinel, ...(target.sentinelPassword ? { password: target.sentinelPassword } : {}) },
      async (client) => {
        const flat = (await client.call('SENTINEL', 'master', target.masterName).catch((error: Error) => {
          // Answered, but watches no primary by that name.
          if (/no such master/i.test(error.message)) return undefined;
          throw error;
        })) as string[] | undefined;
        if (!flat) return { address, answers: true };
        const field = (name: string) => (flat.includes(name) ? flat[flat.indexOf(name) + 1] : undefined);
        return {
          address,
          answers: true,
          primary: { host: field('ip') as string, port: Number(field('port')) },
          flags: field('flags'),
        };
      },
      timeoutMs,
    );
  } catch (error) {
    return { address, answers: false, error: (error as Error).message };
  }
}

/**
 * Asks each Sentinel for the primary of `masterName`, each within `timeoutMs`: resolves when one
 * knows it.
 * @throws ConfigError naming REDIS_SENTINELS (none answers) or REDIS_MASTER_NAME (none knows it).
 */
export async function checkSentinels(
  target: Extract<RedisTarget, { kind: 'sentinels' }>,
  timeoutMs = 3_000,
): Promise<{ host: string; port: number }> {
  const answers = await Promise.all(target.sentinels.map((sentinel) => askSentinel(sentinel, target, timeoutMs)));
  const found = answers.find((answer) => answer.primary)?.primary;
  if (found) return found;
  if (!answers.some((answer) => answer.answers)) {
    throw new ConfigError([
      {
        key: 'REDIS_SENTINELS',
        message: `no Sentinel answers (${answers.map((answer) => `${answer.address} ${answer.error}`).join('; ')})`,
      },
    ]);
  }
  throw new ConfigError([
    {
      key: 'REDIS_MASTER_NAME',
      message: `no Sentinel of REDIS_SENTINELS monitors a primary named ${JSON.stringify(target.masterName)}`,
    },
  ]);
}

/**
 * The Redis a service's settings name, checked before it starts: with Sentinels, one must answer
 * and know the primary, or the service stops (exit 2) with one line naming the setting.
 */
export async function redisTargetOrExit(service: string, settings: RedisTargetSettings): Promise<RedisTarget> {
  let target: RedisTarget;
  try {
    target = redisTargetOf(settings);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${service}: ${error.message}`);
    process.exit(2);
  }
  if (target.kind !== 'sentinels') return target;
  try {
    await checkSentinels(target);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${service}: ${error.message}`);
    process.exit(2);
  }
  return target;
}
