import type Redis from 'ioredis';
import { clusterMasters } from './cluster-masters.ts';
import { infoField } from './redis.ts';

/**
 * Share of Redis's `maxmemory` past which the doors take no new readings. The rest is the
 * consumers' room to drain what is there: their dead letters, alerts, alert states and
 * heartbeats need memory too, and a Redis filled to the last byte by the doors (noeviction) kept
 * them from consuming the entries that held it — the pipeline stalled for good. The doors' check
 * is in the publishing script itself (lua/publish-readings.lua), atomic with the XADDs.
 */
export const MEMORY_HIGH_WATER = 0.9;

export interface RedisMemory {
  usedBytes: number;
  /** 0: no limit. */
  maxBytes: number;
  /** `noeviction` unless Redis is set to evict keys (which would lose readings). */
  policy: string;
}

/** Redis refuses new readings for now: the doors answer 503 / withhold acknowledgements and try again. */
export class RedisFullError extends Error {
  override readonly name = 'RedisFullError';
  constructor(readonly memory: RedisMemory) {
    super(
      `Redis is nearly full (${megabytes(memory.usedBytes)} of maxmemory ${megabytes(memory.maxBytes)}): new readings wait until the consumers drain it`,
    );
  }
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** `INFO memory`, read; on a Redis Cluster, the master fullest for its limit (the one to worry about). */
export async function readRedisMemory(redis: Redis): Promise<RedisMemory> {
  const masters = clusterMasters(redis);
  // None known yet (still connecting): ask through the client, which waits for one.
  if (!masters || masters.length === 0) return memoryOf(redis);
  const all = await Promise.all(masters.map(memoryOf));
  const share = (memory: RedisMemory) => (memory.maxBytes > 0 ? memory.usedBytes / memory.maxBytes : 0);
  return all.reduce((fullest, memory) => (share(memory) > share(fullest) ? memory : fullest));
}

async function memoryOf(redis: Redis): Promise<RedisMemory> {
  const info = await redis.info('memory');
  const field = (name: string) => infoField(info, name);
  return {
    usedBytes: Number(field('used_memory') ?? 0),
    maxBytes: Number(field('maxmemory') ?? 0),
    policy: field('maxmemory_policy') ?? 'noeviction',
  };
}

/**
 * Share of maxmemory past which Redis counts as nearly full: /health says so, and trimming drops
 * the entries kept for replay. Below the high water mark, since the doors stop a batch short of it.
 */
export const MEMORY_NEARLY_FULL = 0.85;

/** True when a Redis with a memory limit is past MEMORY_NEARLY_FULL of it. */
export function nearlyFull(memory: RedisMemory): boolean {
  return memory.maxBytes > 0 && memory.usedBytes >= memory.maxBytes * MEMORY_NEARLY_FULL;
}

/** What /health says about Redis's memory, if anything is wrong with it. */
export function memoryProblems(memory: RedisMemory): string[] {
  const problems: string[] = [];
  if (nearlyFull(memory)) {
    problems.push(
      `Redis is nearly full (${megabytes(memory.usedBytes)} of maxmemory ${megabytes(memory.maxBytes)}): the doors refuse new readings past ${MEMORY_HIGH_WATER * 100}% of it until the consumers drain it; if they are not consuming, start them, or raise maxmemory`,
    );
  }
  if (memory.maxBytes > 0 && memory.policy !== 'noeviction') {
    problems.push(
      `Redis's maxmemory-policy is ${memory.policy}: when full it evicts keys, which loses readings and alert state; set it to noeviction`,
    );
  }
  return problems;
}
