import { type ReplicaPolicy, replicaPolicyOf } from 'core';
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
}

/** `INFO replication` of the primary, read: its replicas, their state and how far behind. */
export function parseReplication(info: string): { role: string; replid: string; offset: number; replicas: ReplicaView[] } {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const offset = Number(field('master_repl_offset') || 0);
  const replicas: ReplicaView[] = [];
  for (const match of info.matchAll(/^slave\d+:(.*)$/gm)) {
    const parts = Object.fromEntries((match[1] as string).trim().split(',').map((pair) => pair.split('=') as [string, string]));
    replicas.push({ address: `${parts.ip}:${parts.port}`, state: parts.state ?? 'unknown', lagBytes: Math.max(0, offset - Number(parts.offset ?? 0)), lagSeconds: Number(parts.lag ?? 0) });
  }
  return { role: field('role'), replid: field('master_replid'), offset, replicas };
}

/**
 * Watches the primary's replication on its own schedule (so that /health only reads): which
 * replicas it has, how far behind each is, and failovers (the replication id changes when a
 * replica is promoted). With REDIS_MIN_REPLICAS, fewer in sync makes /health degraded: the doors
 * then answer 503.
 */
export function startReplicationWatch({ redis, intervalMs = 2_000 }: { redis: Redis; intervalMs?: number }) {
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
    const inSync = read.replicas.filter((replica) => replica.state === 'online' && replica.lagSeconds <= allowedLagSeconds).length;
    view = { role: read.role, replicas: read.replicas, inSync, minReplicas, failovers };
  };
  const timer = setInterval(() => void check().catch(() => {}), intervalMs);
  void check().catch(() => {});
  return {
    view: () => view,
    /** Why /health is degraded, if the replicas the doors wait for are not there. */
    reason(): string | undefined {
      if (!view || view.inSync >= view.minReplicas) return undefined;
      return `only ${view.inSync} of the ${view.minReplicas} Redis replicas REDIS_MIN_REPLICAS asks for are in sync: the doors answer 503 until one is (replicas: ${view.replicas.map((r) => `${r.address} ${r.state}`).join(', ') || 'none'})`;
    },
    stop: () => clearInterval(timer),
  };
}

export type ReplicationWatch = ReturnType<typeof startReplicationWatch>;
