import type Redis from 'ioredis';
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
    super(`only ${confirmed} of the ${policy.minReplicas} replicas REDIS_MIN_REPLICAS asks for confirmed the write within ${policy.waitMs} ms (REDIS_WAIT_MS): not acknowledged, try again`);
  }
}

const policies = new WeakMap<Redis, ReplicaPolicy>();

/** Gives a connection the replica policy its doors' writes follow (createRedis does, from the target). */
export function setReplicaPolicy(redis: Redis, policy: ReplicaPolicy | undefined): void {
  if (policy && policy.minReplicas > 0) policies.set(redis, policy);
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
export async function confirmReplicas(redis: Redis): Promise<void> {
  const policy = policies.get(redis);
  if (!policy) return;
  const confirmed = Number(await redis.call('WAIT', policy.minReplicas, policy.waitMs));
  if (confirmed < policy.minReplicas) throw new ReplicasBehindError(confirmed, policy);
}
