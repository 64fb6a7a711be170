import type Redis from 'ioredis';

/** Redis's clock in milliseconds: the clock stream ids, silences and alert raise times are on. */
export async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = (await redis.time()) as [number | string, number | string];
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
}
