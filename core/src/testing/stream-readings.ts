import type Redis from 'ioredis';
import { type Reading, decodeReadingItems } from '../index.ts';

/** Every reading in a stream, in order, with its entry id: frames flattened, undecodable items skipped. */
export async function streamEntries(
  redis: Redis,
  stream: string,
): Promise<Array<{ entryId: string; reading: Reading }>> {
  const entries: Array<{ entryId: string; reading: Reading }> = [];
  for (const [entryId, fields] of await redis.xrange(stream, '-', '+')) {
    for (const item of decodeReadingItems(fields)) if ('value' in item) entries.push({ entryId, reading: item.value });
  }
  return entries;
}

/** Every reading in a stream, in order (frames flattened). */
export async function streamReadings(redis: Redis, stream: string): Promise<Reading[]> {
  return (await streamEntries(redis, stream)).map((entry) => entry.reading);
}
