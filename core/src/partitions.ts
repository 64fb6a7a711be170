import type Redis from 'ioredis';
import { partitionStream, pipelineKeys } from './keys.ts';

/** The most partitions STREAM_PARTITIONS takes: each is a stream, its groups and a reader per consumer. */
export const MAX_STREAM_PARTITIONS = 256;

/**
 * The readings stream split into `count` partition streams (STREAM_PARTITIONS): each device's
 * readings go to one of them, chosen by a stable hash of its id, so they stay in order there.
 * Partition 0 keeps the stream's own name (`readings`), the others add their number
 * (`readings:1` … `readings:7`): with one partition nothing changes, and an entry XADDed straight
 * to `readings` is still read. Each name is its own hash tag (keys.ts), so on a Redis Cluster the
 * partitions, each with its groups and dead letters, spread over the masters.
 */
export interface ReadingStreams {
  /** The stream's name (READINGS_STREAM): partition 0's, and the root of the others'. */
  readonly base: string;
  /** Every partition's stream, partition 0 first. */
  readonly streams: readonly string[];
  /** The stream a device's readings go to. */
  of(deviceId: string): string;
}

export function readingStreams(base: string, count = 1): ReadingStreams {
  if (!Number.isInteger(count) || count < 1 || count > MAX_STREAM_PARTITIONS)
    throw new RangeError(`partitions must be a whole number from 1 to ${MAX_STREAM_PARTITIONS}, got ${count}`);
  const streams = Array.from({ length: count }, (_, index) => partitionStream(base, index));
  return {
    base,
    streams,
    of: count === 1 ? () => base : (deviceId) => streams[partitionOf(deviceId, count)] as string,
  };
}

/**
 * The partition of a device: FNV-1a (32 bits) of its id's UTF-8 bytes, modulo the count. Fixed
 * for ever (a device's readings must keep to one partition), and small enough for a device that
 * XADDs by itself to compute (docs/event-contract.md).
 */
export function partitionOf(deviceId: string, count: number): number {
  if (count === 1) return 0;
  let hash = 0x811c9dc5;
  // An ASCII id's characters are its bytes (the common case: no encoding, no allocation).
  for (let index = 0; index < deviceId.length; index++) {
    const code = deviceId.charCodeAt(index);
    if (code >= 0x80) return fnv1a(utf8.encode(deviceId)) % count;
    hash = Math.imul(hash ^ code, 0x01000193) >>> 0;
  }
  return hash % count;
}

const utf8 = new TextEncoder();

function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** The partition of the alerts stream `deviceId`'s alerts and alert state are in (alertStreamsOf). */
export function alertStreamOf(alertsStream: string, partitions: number, deviceId: string): string {
  return partitionStream(alertsStream, partitionOf(deviceId, partitions));
}

/** STREAM_PARTITIONS differs from the count the pipeline on this Redis was created with. */
export class PartitionCountMismatchError extends Error {
  override readonly name = 'PartitionCountMismatchError';
  constructor(
    readonly configured: number,
    readonly recorded: number,
    stream: string,
  ) {
    super(
      `STREAM_PARTITIONS is ${configured}, but the pipeline on this Redis splits "${stream}" into ${recorded} partitions (fixed when it was created): set STREAM_PARTITIONS=${recorded}, or start a new pipeline (another KEY_PREFIX)`,
    );
  }
}

/**
 * Records the partition count on the pipeline's first start, and checks it on every later one: a
 * device's readings must go where the consumers look for them, and where its earlier ones went.
 * @throws PartitionCountMismatchError when another count is recorded
 */
export async function checkPartitionCount(redis: Redis, streams: ReadingStreams): Promise<void> {
  const key = pipelineKeys.partitions(streams.base);
  const count = streams.streams.length;
  if ((await redis.set(key, count, 'NX')) === 'OK') return;
  const recorded = Number(await redis.get(key));
  if (recorded !== count) throw new PartitionCountMismatchError(count, recorded, streams.base);
}

/** The readings stream as a service's settings give it (READINGS_STREAM, STREAM_PARTITIONS). */
export function readingStreamsOf(settings: { readingsStream: string; streamPartitions: number }): ReadingStreams {
  return readingStreams(settings.readingsStream, settings.streamPartitions);
}

/**
 * The alerts stream split as the readings stream is: partition n's transitions (and its devices'
 * alert state, keys.ts `alertKeys`) are beside `alerts` for n = 0, `alerts:n` for the others, so a
 * device's alerts stay in order in the partition its readings are evaluated in.
 */
export function alertStreamsOf(settings: { alertsStream: string; streamPartitions: number }): ReadingStreams {
  return readingStreams(settings.alertsStream, settings.streamPartitions);
}
