import type Redis from 'ioredis';

/** How long a lease lasts unless renewed: how long a crashed evaluator's standby waits. */
export const LEASE_MS = 5_000;

// Extends the lease only if it is still this holder's: never revives one another instance took.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * One evaluator at a time: the alert rules need each device's readings in stream order, which
 * two instances reading one group cannot keep (each takes a share of every batch of devices).
 * The instance holding this lease evaluates; the others stand by and take over when it lapses
 * (a crash) or is released (a clean stop). The evaluation script checks the token too, so an
 * instance that lost its lease while a batch was on the way changes nothing.
 */
export function evaluatorLease(redis: Redis, key: string, token: string, ttlMs = LEASE_MS) {
  return {
    key,
    token,
    /** True when this instance holds the lease now (taken, or already its own). */
    async acquire(): Promise<boolean> {
      if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') return true;
      return this.renew();
    },
    /** True while it is still this instance's. */
    async renew(): Promise<boolean> {
      return (await redis.eval(RENEW, 1, key, token, ttlMs)) === 1;
    },
    async release(): Promise<void> {
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}

export type EvaluatorLease = ReturnType<typeof evaluatorLease>;
