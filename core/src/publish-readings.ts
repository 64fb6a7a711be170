import type Redis from 'ioredis';
import { READING_VERSION, type Reading, encodeReadingPayload } from './contracts/reading.ts';

/**
 * One script call XADDs a whole batch, each reading its own entry in the current wire format
 * (`v`, `r`). Against a pipeline of XADDs it spares the publisher a command object, an encoding
 * and a reply per reading: half of the producer's CPU went there. Redis applies a batch in order
 * and atomically; if the reply is lost the batch is sent again (duplicates in the stream, stored
 * once). KEYS: stream. ARGV: version, then one `r` payload per reading. Returns how many were added.
 */
const PUBLISH = `
for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'r', ARGV[i]) end
return #ARGV - 1
`;

type PublishingRedis = Redis & { publishReadings(stream: string, version: string, ...payloads: string[]): Promise<number> };

/**
 * Appends readings to the stream in the current wire format, in order, atomically; resolves once
 * Redis has acknowledged them all (the producer and the API's ingest both publish this way).
 * @throws when Redis is away or refused the script: then nothing was added.
 */
export async function publishReadings(redis: Redis, stream: string, readings: readonly Reading[]): Promise<number> {
  if (!('publishReadings' in redis)) redis.defineCommand('publishReadings', { numberOfKeys: 1, lua: PUBLISH });
  const added = await (redis as PublishingRedis).publishReadings(stream, READING_VERSION, ...readings.map(encodeReadingPayload));
  if (added !== readings.length) throw new Error(`Redis added ${added} of ${readings.length} readings`);
  return added;
}
