import type Redis from 'ioredis';

/**
 * Marks an instance alive until Redis's now + ttl, forgets those past their time, and counts the
 * live ones: one call, on Redis's clock (instances' clocks may differ).
 * KEYS[1]: the instances' set (keys.ts `alertKeys().evaluators`). ARGV: instance, ttl ms.
 */
const BEAT = `local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
return redis.call('ZCARD', KEYS[1])`;

type BeatingRedis = Redis & { beatPartitionShare(key: string, instance: string, ttlMs: number): Promise<number> };

/**
 * How many of the readings stream's partitions this consumer-alert instance may evaluate: its
 * fair share, `ceil(partitions / live instances)`. Every instance beats (every lease renewal), so
 * one that joins lowers the others' share — they hand partitions over — and one that dies or
 * stops is forgotten after `ttlMs`, raising the survivors' share so they take its partitions once
 * their leases lapse.
 */
export function partitionShare(options: {
  redis: Redis;
  key: string;
  instance: string;
  partitions: number;
  ttlMs: number;
}) {
  const { key, instance, partitions, ttlMs } = options;
  if (!('beatPartitionShare' in options.redis))
    options.redis.defineCommand('beatPartitionShare', { lua: BEAT, numberOfKeys: 1 });
  const redis = options.redis as BeatingRedis;
  let live = 1;
  return {
    /** Marks this instance alive and counts the live ones (Redis away: the last count stands). */
    async beat(): Promise<void> {
      live = Math.max(1, Number(await redis.beatPartitionShare(key, instance, ttlMs)));
    },
    /** Partitions this instance may hold now. */
    fair(): number {
      return Math.ceil(partitions / live);
    },
    /** A clean stop: the others take its share at once rather than after ttlMs. */
    async leave(): Promise<void> {
      await redis.zrem(key, instance);
    },
  };
}

export type PartitionShare = ReturnType<typeof partitionShare>;
