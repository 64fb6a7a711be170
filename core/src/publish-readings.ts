import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { READING_VERSION, type Reading, encodeReadingPayload } from './contracts/reading.ts';
import { type AlertMode, FRAME_VERSION } from './contracts/reading-frame.ts';
import type { ReadingStreams } from './partitions.ts';
import { MEMORY_HIGH_WATER, RedisFullError } from './redis-memory.ts';
import { replicated } from './replica-wait.ts';

/**
 * One script call XADDs a whole batch, in order and atomically: as frames (`v 3 f [...]`, up to
 * FRAME_READINGS readings an entry), or with FRAME_READINGS=1 one v2 entry per reading (for
 * consumers not yet upgraded). Against a pipeline of XADDs it spares the publisher a command
 * object, an encoding and a reply per entry. If the reply is lost the batch is sent again
 * (duplicates in the stream, stored once).
 */
const PUBLISH = readFileSync(join(import.meta.dir, 'lua/publish-readings.lua'), 'utf8');

/** Readings per frame by default: ≤ ~50 KB of JSON, well under a millisecond to decode. */
export const DEFAULT_FRAME_READINGS = 500;

type PublishingRedis = Redis & {
  publishReadings(
    stream: string,
    version: string,
    field: string,
    highWater: number,
    ...payloads: string[]
  ): Promise<number | [number, number]>;
};

/**
 * Appends readings to the stream — to their partitions' streams when it has several (a device's
 * own readings to one, in order) — atomically per partition; resolves once Redis has acknowledged
 * them all (the producer, the API's ingest and imports, and ingest-mqtt all publish this way).
 * Past Redis's memory high water mark (MEMORY_HIGH_WATER of maxmemory) it refuses, leaving the
 * consumers room to drain.
 * With a replica policy on the connection (REDIS_MIN_REPLICAS), it resolves only once that many
 * replicas hold the readings (one WAIT per call, on each master written to).
 * @throws RedisFullError past the high water mark, or Redis's error when it is away or refused
 * the script: then nothing was added (with partitions: to that partition; others may hold theirs);
 * ReplicasBehindError when too few replicas confirmed them in time, or ConnectionRenewedError when
 * a failover came between: then they may be on a primary only. In every case a retry of the whole
 * call adds copies that are stored once.
 */
export async function publishReadings(
  redis: Redis,
  /** The partitioned readings stream, or a stream's name (one partition). */
  streams: ReadingStreams | string,
  readings: readonly Reading[],
  frameReadings = DEFAULT_FRAME_READINGS,
  /** What alerting does with them (frames only): see ALERT_MODES. */
  alerts?: AlertMode,
): Promise<number> {
  if (readings.length === 0) return 0;
  if (!('publishReadings' in redis)) redis.defineCommand('publishReadings', { numberOfKeys: 1, lua: PUBLISH });
  const publishing = redis as PublishingRedis;
  // One stream (a name, or one partition): no routing.
  const single = typeof streams === 'string' ? streams : streams.streams.length === 1 ? streams.base : undefined;
  if (single !== undefined) {
    await replicated(redis, () => appendTo(publishing, single, readings, frameReadings, alerts));
    return readings.length;
  }
  const target = streams as ReadingStreams;
  const parts = new Map<string, Reading[]>();
  for (const reading of readings) {
    const stream = target.of(reading.deviceId);
    const part = parts.get(stream);
    if (part) part.push(reading);
    else parts.set(stream, [reading]);
  }
  await replicated(redis, async () => {
    await Promise.all([...parts].map(([stream, part]) => appendTo(publishing, stream, part, frameReadings, alerts)));
  });
  return readings.length;
}

/** One script call: `readings` onto one stream, as frames, or as v2 entries with frameReadings 1. */
async function appendTo(
  redis: PublishingRedis,
  stream: string,
  readings: readonly Reading[],
  frameReadings: number,
  alerts: AlertMode | undefined,
): Promise<void> {
  const frames = frameReadings > 1;
  const payloads: string[] = [];
  if (!frames) for (const reading of readings) payloads.push(encodeReadingPayload(reading));
  else
    for (let start = 0; start < readings.length; start += frameReadings)
      payloads.push(
        `[${readings
          .slice(start, start + frameReadings)
          .map(encodeReadingPayload)
          .join(',')}]`,
      );
  const added = await redis.publishReadings(
    stream,
    frames ? FRAME_VERSION : READING_VERSION,
    frames ? 'f' : 'r',
    MEMORY_HIGH_WATER,
    frames ? (alerts ?? '') : '',
    ...payloads,
  );
  if (Array.isArray(added)) throw new RedisFullError({ usedBytes: added[0], maxBytes: added[1], policy: 'noeviction' });
  if (added !== payloads.length) throw new Error(`Redis added ${added} of ${payloads.length} entries`);
}
