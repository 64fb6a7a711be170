import { type RedisTarget, type ReplicaPolicy, askSentinel, infoField, replicaPolicyOf } from 'core';
import type Redis from 'ioredis';

export interface ReplicaView {
  address: string;
  /** `online` once synced; `wait_bgsave`, `send_bulk` while syncing. */
  state: string;
  /** Bytes of the replication stream it has not confirmed. */
  lagBytes: number;
  /** Seconds since it last confirmed. */
  lagSeconds: number;
}

export interface ReplicationView {
  role: string;
  replicas: ReplicaView[];
  /** Replicas online and confirming within REDIS_WAIT_MS. */
  inSync: number;
  /** What the doors wait for (REDIS_MIN_REPLICAS), 0 without. */
  minReplicas: number;
  /** Changes of primary this API has seen since it started (the replication id changed). */
  failovers: number;
  /** With REDIS_SENTINELS: what each Sentinel says of the primary. */
  sentinels?: SentinelView[];
}

export interface SentinelView {
  address: string;
  answers: boolean;
  /** The primary it names (`host:port`). */
  primary?: string;
  /** Its flags for the primary (`master`, `s_down`, `o_down`, `failover_in_progress`…). */
  flags?: string;
}

/** `INFO replication` of the primary, read: its replicas, their state and how far behind. */
export function parseReplication(info: string): {
  role: string;
  replid: string;
  offset: number;
  replicas: ReplicaView[];
} {
  const field = (name: string) => infoField(info, name) ?? '';
  const offset = Number(field('master_repl_offset') || 0);
  const replicas: ReplicaView[] = [];
  for (const match of info.matchAll(/^slave\d+:(.*)$/gm)) {
    const parts = Object.fromEntries(
      (match[1] as string)
        .trim()
        .split(',')
        .map((pair) => pair.split('=') as [string, string]),
    );
    replicas.push({
      address: `${parts.ip}:${parts.port}`,
      state: parts.state ?? 'unknown',
      lagBytes: Math.max(0, offset - Number(parts.offset ?? 0)),
      lagSeconds: Number(parts.lag ?? 0),
    });
  }
  return { role: field('role'), replid: field('master_replid'), offset, replicas };
}

/**
 * Watches the primary's replication on its own schedule (so that /health only reads): which
 * replicas it has, how far behind each is, and failovers (the replication id changes when a
 * replica is promoted). With REDIS_MIN_REPLICAS, fewer in sync makes /health degraded: the doors
 * then answer 503.
 */
export function startReplicationWatch({
  redis,
  target,
  intervalMs = 2_000,
}: {
  redis: Redis;
  target?: RedisTarget;
  intervalMs?: number;
}) {
  const policy: ReplicaPolicy | undefined = replicaPolicyOf(redis);
  let view: ReplicationView | undefined;
  let replid: string | undefined;
  let failovers = 0;
  const check = async () => {
    const read = parseReplication(await redis.info('replication'));
    if (replid !== undefined && read.replid !== replid && read.role === 'master') failovers += 1;
    replid = read.replid;
    const minReplicas = policy?.minReplicas ?? 0;
    const allowedLagSeconds = Math.max(1, Math.ceil((policy?.waitMs ?? 1_000) / 1_000));
    const inSync = read.replicas.filter(
      (replica) => replica.state === 'online' && replica.lagSeconds <= allowedLagSeconds,
    ).length;
    const sentinels =
      target?.kind === 'sentinels'
        ? await Promise.all(target.sentinels.map((sentinel) => sentinelView(sentinel, target)))
        : undefined;
    view = {
      role: read.role,
      replicas: read.replicas,
      inSync,
      minReplicas,
      failovers,
      ...(sentinels ? { sentinels } : {}),
    };
  };
  const timer = setInterval(() => void check().catch(() => {}), intervalMs);
  void check().catch(() => {});
  return {
    view: () => view,
    /** Why /health is degraded, if the replicas the doors wait for are not there. */
    reasons(): string[] {
      if (!view) return [];
      const reasons: string[] = [];
      if (view.inSync < view.minReplicas) {
        reasons.push(
          `only ${view.inSync} of the ${view.minReplicas} Redis replicas REDIS_MIN_REPLICAS asks for are in sync: the doors answer 503 until one is (replicas: ${view.replicas.map((r) => `${r.address} ${r.state}`).join(', ') || 'none'})`,
        );
      }
      const sentinels = view.sentinels ?? [];
      const answering = sentinels.filter((sentinel) => sentinel.answers);
      if (sentinels.length > 0 && answering.length <= sentinels.length / 2) {
        reasons.push(
          `only ${answering.length} of ${sentinels.length} Sentinels answer: without a majority no failover can happen`,
        );
      }
      if (answering.some((sentinel) => sentinel.flags?.includes('failover_in_progress')))
        reasons.push('a Redis failover is in progress');
      return reasons;
    },
    stop: () => clearInterval(timer),
  };
}

export type ReplicationWatch = ReturnType<typeof startReplicationWatch>;

/** A Sentinel's word as /health shows it. */
async function sentinelView(
  sentinel: { host: string; port: number },
  target: Extract<RedisTarget, { kind: 'sentinels' }>,
): Promise<SentinelView> {
  const { address, answers, primary, flags } = await askSentinel(sentinel, target);
  return {
    address,
    answers,
    ...(primary ? { primary: `${primary.host}:${primary.port}` } : {}),
    ...(flags ? { flags } : {}),
  };
}
