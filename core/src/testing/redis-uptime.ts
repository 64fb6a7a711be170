import type Redis from 'ioredis';
import { waitFor } from './wait.ts';

/**
 * Waits until Redis has run `seconds`. Absence rules date a silence from Redis's start when that
 * is later than the device's reading (nobody could report before it), known to the second and
 * rounded up: readings sent after this are dated from themselves.
 */
export async function redisUpFor(redis: Redis, seconds: number): Promise<void> {
  await waitFor(async () => Number(/uptime_in_seconds:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0) >= seconds, {
    what: `Redis up ${seconds} s`,
    timeoutMs: (seconds + 5) * 1_000,
  });
}
