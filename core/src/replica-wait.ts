import type Redis from 'ioredis';
import { clusterMasters } from './cluster-masters.ts';
import type { ReplicaPolicy } from './redis-target.ts';

/**
 * Fewer replicas than REDIS_MIN_REPLICAS confirmed a write within REDIS_WAIT_MS: it is on the
 * primary, but a loss of the primary's machine could still lose it, so the door does not
 * acknowledge it (503 / no PUBACK / kept buffered) and tries again (the copy is stored once).
 */
export class ReplicasBehindError extends Error {
  override readonly name = 'ReplicasBehindError';
  constructor(
    readonly confirmed: number,
    readonly policy: ReplicaPolicy,
  ) {
    super(
      `only ${confirmed} of the ${policy.minReplicas} replicas REDIS_MIN_REPLICAS asks for confirmed the write within ${policy.waitMs} ms (REDIS_WAIT_MS): not acknowledged, try again`,
    );
  }
}

/**
 * The connection was made again (a failover) between writes and their confirmation: they may have
 * gone to the old primary — which, woken from a partition, takes writes for a moment before it
 * learns it is one no more — so `WAIT`'s answer on the new connection says nothing of them.
 */
export class ConnectionRenewedError extends Error {
  override readonly name = 'ConnectionRenewedError';
  constructor() {
    super(
      'the Redis connection was made again (a failover) before its writes were confirmed on replicas: they are done again',
    );
  }
}

const policies = new WeakMap<Redis, ReplicaPolicy>();
const generations = new WeakMap<Redis, number>();

/** Gives a connection the replica policy its doors' writes follow (createRedis does, from the target). */
export function setReplicaPolicy(redis: Redis, policy: ReplicaPolicy | undefined): void {
  if (!policy || policy.minReplicas === 0) return;
  policies.set(redis, policy);
  // Counts the connection's renewals, for confirmWritesSince.
  onRenewed(redis, () => generations.set(redis, (generations.get(redis) ?? 0) + 1));
}

/**
 * Calls `renewed` each time the connection is made again: for one Redis, every 'ready' after the
 * first; for a Redis Cluster client, also every change of its masters (a failover puts a replica
 * in a dead master's place: writes made on the old one may be gone). Returns what stops it.
 */
export function onRenewed(redis: Redis, renewed: () => void): () => void {
  let first = (redis as { status?: string }).status !== 'ready';
  const ready = () => {
    if (first) first = false;
    else renewed();
  };
  // The client adds and drops nodes as it refreshes (a dead one comes and goes until the cluster
  // forgets it): only a change of masters counts.
  let masters = mastersOf(redis);
  const nodeChanged = () => {
    const now = mastersOf(redis);
    if (now === masters) return;
    masters = now;
    if (!first) renewed();
  };
  redis.on('ready', ready);
  redis.on('-node', nodeChanged);
  redis.on('+node', nodeChanged);
  return () => {
    redis.off('ready', ready);
    redis.off('-node', nodeChanged);
    redis.off('+node', nodeChanged);
  };
}

/** The masters a Redis Cluster client knows, as one string ('' for one Redis). */
function mastersOf(redis: Redis): string {
  return (clusterMasters(redis) ?? [])
    .map((node) => `${node.options.host}:${node.options.port}`)
    .sort()
    .join(',');
}

const renewals = new WeakMap<Redis, { count: number }>();

/**
 * How often the connection was made again since this was first asked of it, with or without a
 * replica policy: a count that changes when a failover or a restart may have lost writes (what a
 * service knows of Redis's state is then to be read again).
 */
export function renewalsOf(redis: Redis): number {
  let counter = renewals.get(redis);
  if (!counter) {
    const counted = { count: 0 };
    onRenewed(redis, () => {
      counted.count += 1;
    });
    renewals.set(redis, counted);
    counter = counted;
  }
  return counter.count;
}

/** How often a connection with a replica policy was made again (0 without a policy). */
export function connectionGeneration(redis: Redis): number {
  return generations.get(redis) ?? 0;
}

/** The policy of a connection, if it has one. */
export function replicaPolicyOf(redis: Redis): ReplicaPolicy | undefined {
  return policies.get(redis);
}

/**
 * Resolves once the writes made on this connection so far are on at least REDIS_MIN_REPLICAS
 * replicas (`WAIT`: one round trip per batch, not per reading); at once when the connection has
 * no such policy (one Redis, REDIS_MIN_REPLICAS 0).
 * @throws ReplicasBehindError when fewer confirmed it in time.
 */
async function confirmReplicas(redis: Redis): Promise<void> {
  const policy = policies.get(redis);
  if (!policy) return;
  // On a Redis Cluster, WAIT on each master's connection: the writes went to their keys' shards,
  // and a shard without writes on it answers at once. A master that died meanwhile may never
  // answer (its connection waits to come back): past the WAIT's own time it counts as none.
  const shards = clusterMasters(redis);
  const confirmed = shards
    ? Math.min(...(await Promise.all(shards.map((shard) => waitWithin(shard, policy)))))
    : Number(await redis.call('WAIT', policy.minReplicas, policy.waitMs));
  if (confirmed < policy.minReplicas) throw new ReplicasBehindError(confirmed, policy);
}

/** WAIT on one shard's connection; 0 when it has not answered shortly after WAIT's own time. */
async function waitWithin(shard: Redis, policy: ReplicaPolicy): Promise<number> {
  let timer: Timer | undefined;
  const late = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(0), policy.waitMs + 1_000);
  });
  const answered = shard.call('WAIT', policy.minReplicas, policy.waitMs).then(Number, () => 0);
  try {
    return await Promise.race([answered, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `write` (commands on `redis`) and answers what it answered once the replicas
 * REDIS_MIN_REPLICAS asks for hold its effect: what a door acknowledges after this survives the
 * loss of the primary. At once without a replica policy.
 * @throws ReplicasBehindError or ConnectionRenewedError (see confirmWritesSince): the write may be
 * on the primary only; doing it again must be harmless (every write so confirmed is).
 */
export async function replicated<T>(redis: Redis, write: () => Promise<T>): Promise<T> {
  const generation = connectionGeneration(redis);
  const result = await write();
  await confirmWritesSince(redis, generation);
  return result;
}

/**
 * confirmReplicas for writes made on this connection since `generation` (connectionGeneration
 * before them): also throws ConnectionRenewedError when the connection was made again meanwhile,
 * since the writes may then be on a primary that is one no more. A consumer does this between its
 * handler and its acks, so that what it acknowledges is what a replica holds.
 */
export async function confirmWritesSince(redis: Redis, generation: number): Promise<void> {
  if (!policies.has(redis)) return;
  if (connectionGeneration(redis) === generation) await confirmReplicas(redis);
  if (connectionGeneration(redis) !== generation) throw new ConnectionRenewedError();
}
