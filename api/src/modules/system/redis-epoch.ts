import { randomUUID } from 'node:crypto';
import { pipelineKeys } from 'core';
import type Redis from 'ioredis';

export interface EpochWatchOptions {
  redis: Redis;
  /** How often the marker is checked. Default 2,000 ms. */
  intervalMs?: number;
  /** How long /health stays degraded after a loss. Default an hour. */
  degradedForMs?: number;
}

/**
 * Notices a Redis restarted empty or flushed while the API runs: every interval it makes sure the
 * marker exists (SET NX) and reads it back; a marker other than the one it saw before means the
 * old one, and everything with it, is gone. Runs on its own schedule, so /health only reads.
 * An API that starts after the loss cannot tell (it never saw the old marker); another instance
 * that was running does.
 */
export function startEpochWatch({ redis, intervalMs = 2_000, degradedForMs = 60 * 60 * 1_000 }: EpochWatchOptions) {
  let known: string | undefined;
  let lostAt: number | undefined;
  let losses = 0;
  const check = async () => {
    await redis.set(pipelineKeys.epoch, `${new Date().toISOString()} ${randomUUID()}`, 'NX');
    const current = (await redis.get(pipelineKeys.epoch)) ?? undefined;
    if (known !== undefined && current !== known) {
      lostAt = Date.now();
      losses += 1;
    }
    known = current;
  };
  const timer = setInterval(() => void check().catch(() => {}), intervalMs);
  void check().catch(() => {});
  return {
    /** Why /health is degraded, while a loss is recent. */
    reason(now = Date.now()): string | undefined {
      if (lostAt === undefined || now - lostAt > degradedForMs) return undefined;
      return `Redis lost its data at ${new Date(lostAt).toISOString()} (restarted empty or flushed): readings not yet stored may be lost — replay them from the producers' CSV files or the devices`;
    },
    /** Losses noticed since start, for /metrics. */
    get losses() {
      return losses;
    },
    stop: () => clearInterval(timer),
  };
}

export type EpochWatch = ReturnType<typeof startEpochWatch>;
