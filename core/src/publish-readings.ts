import type Redis from 'ioredis';
import { READING_VERSION, type Reading, encodeReadingPayload } from './contracts/reading.ts';
import { FRAME_VERSION } from './contracts/reading-frame.ts';

/**
 * One script call XADDs a whole batch, in order and atomically: as frames (`v 3 f [...]`, up to
 * FRAME_READINGS readings an entry), or with FRAME_READINGS=1 one v2 entry per reading (for
 * consumers not yet upgraded). Against a pipeline of XADDs it spares the publisher a command
 * object, an encoding and a reply per entry. If the reply is lost the batch is sent again
 * (duplicates in the stream, stored once). KEYS: stream. ARGV: version, the payload field's name,
 * then one payload per entry. Returns how many entries were added.
 */
const PUBLISH = `
for i = 3, #ARGV do redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], ARGV[2], ARGV[i]) end
return #ARGV - 2
`;

/** Readings per frame by default: ≤ ~50 KB of JSON, well under a millisecond to decode. */
export const DEFAULT_FRAME_READINGS = 500;

type PublishingRedis = Redis & { publishReadings(stream: string, version: string, field: string, ...payloads: string[]): Promise<number> };

/**
 * Appends readings to the stream, in order, atomically; resolves once Redis has acknowledged them
 * all (the producer, the API's ingest and imports, and ingest-mqtt all publish this way).
 * @throws when Redis is away or refused the script: then nothing was added.
 */
export async function publishReadings(redis: Redis, stream: string, readings: readonly Reading[], frameReadings = DEFAULT_FRAME_READINGS): Promise<number> {
  if (readings.length === 0) return 0;
  if (!('publishReadings' in redis)) redis.defineCommand('publishReadings', { numberOfKeys: 1, lua: PUBLISH });
  const publishing = redis as PublishingRedis;
  if (frameReadings <= 1) {
    const added = await publishing.publishReadings(stream, READING_VERSION, 'r', ...readings.map(encodeReadingPayload));
    if (added !== readings.length) throw new Error(`Redis added ${added} of ${readings.length} readings`);
    return added;
  }
  const frames: string[] = [];
  for (let start = 0; start < readings.length; start += frameReadings) {
    frames.push(`[${readings.slice(start, start + frameReadings).map(encodeReadingPayload).join(',')}]`);
  }
  const added = await publishing.publishReadings(stream, FRAME_VERSION, 'f', ...frames);
  if (added !== frames.length) throw new Error(`Redis added ${added} of ${frames.length} frames`);
  return readings.length;
}
