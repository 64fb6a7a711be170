import type Redis from 'ioredis';
import { defaultInstanceName } from '../instance.ts';
import { streamKeys } from '../keys.ts';
import type { Logger } from '../logger.ts';
import type { ConsumerEntry, DecodedItem, EntryOutcome } from './types.ts';

export interface ConsumerOptions<T> {
  /** For acks, claims and dead letters. */
  redis: Redis;
  /** For the blocking XREADGROUP, which holds its connection while it waits. */
  blockingRedis: Redis;
  stream: string;
  group: string;
  /** Unique per running instance. Default `<hostname>-<pid>`. */
  consumer?: string;
  /** Turns an entry's fields into the handler's value; a throw dead-letters the entry at once. */
  decode?: (fields: string[]) => T;
  /**
   * Instead of `decode`, for entries holding several items (a frame of readings): each item is
   * handled and settled alone — an item that does not decode, or that the handler says is dead,
   * is dead-lettered alone with its own fields — and the entry is acknowledged once all its items
   * are. A throw dead-letters the entry whole.
   */
  decodeItems?: (fields: string[]) => ReadonlyArray<DecodedItem<T>>;
  /**
   * What becomes of an entry or item that does not decode: `dead-letter` it (default), or `skip`
   * it (acknowledged, counted) — for a group whose stream another group reads with the same
   * contract and dead-letters: a refused reading then has one dead letter, not one per group.
   */
  undecodable?: 'dead-letter' | 'skip';
  /** Gets a batch; returns an outcome per entry (same order), or nothing for "all done". A throw retries the whole batch. */
  handle: (batch: ReadonlyArray<ConsumerEntry<T>>) => Promise<ReadonlyArray<EntryOutcome> | undefined | void>;
  logger: Logger;
  /** Items (entries, or a frame's readings) per handler call, and per read. Default 500. */
  batchSize?: number;
  /** How long a read waits for new entries. Default 1,000 ms (also the longest wait at close). */
  blockMs?: number;
  /** Entries idle this long on another consumer are taken over (it is presumed dead). Default 30,000 ms. */
  claimIdleMs?: number;
  /** How often to look for such entries. Default claimIdleMs / 2. */
  claimIntervalMs?: number;
  /** An entry delivered more often than this (crash after crash) is dead-lettered. Default 10. */
  maxDeliveries?: number;
  /** Default the stream's own (keys.ts `streamKeys().dead`). */
  deadLetterStream?: string;
  /** Where a new group starts: `0` (the whole stream, default) or `$` (only new entries). */
  startId?: string;
  /** Retry backoff for a failing handler or Redis: base and cap. Default 100 ms and 30,000 ms. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Consumers idle this long with nothing pending are removed from the group. Default 1 hour. */
  forgetConsumersAfterMs?: number;
  /**
   * Batches handled at once. Above 1 the next batch is read while the last is still in the
   * handler (the API stores one while the consumer decodes and sends the next). Default 1.
   */
  concurrency?: number;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new RangeError(`${name} must be a whole number from 1 to ${max}, got ${value}`);
  return value;
}

/**
 * The options with their defaults, checked: a bad one throws a RangeError naming it, before
 * anything runs.
 */
export function resolveConsumerOptions<T>(options: ConsumerOptions<T>) {
  const { redis, blockingRedis, stream, group, decode, handle, logger } = options;
  if (!stream || !group) throw new RangeError('stream and group are required');
  // One item per entry unless the entries hold several.
  const decodeItems =
    options.decodeItems ??
    (decode && ((fields: string[]): ReadonlyArray<DecodedItem<T>> => [{ value: decode(fields), fields }]));
  if (!decodeItems) throw new RangeError('decode or decodeItems is required');
  const name = options.consumer ?? defaultInstanceName();
  const batchSize = positiveInteger('batchSize', options.batchSize ?? 500, 100_000);
  const blockMs = positiveInteger('blockMs', options.blockMs ?? 1_000);
  const claimIdleMs = positiveInteger('claimIdleMs', options.claimIdleMs ?? 30_000);
  const claimIntervalMs = positiveInteger(
    'claimIntervalMs',
    options.claimIntervalMs ?? Math.max(1, Math.floor(claimIdleMs / 2)),
  );
  const maxDeliveries = positiveInteger('maxDeliveries', options.maxDeliveries ?? 10);
  const retryBaseMs = positiveInteger('retryBaseMs', options.retryBaseMs ?? 100);
  const retryMaxMs = positiveInteger('retryMaxMs', options.retryMaxMs ?? 30_000);
  const forgetConsumersAfterMs = positiveInteger('forgetConsumersAfterMs', options.forgetConsumersAfterMs ?? 3_600_000);
  const concurrency = positiveInteger('concurrency', options.concurrency ?? 1, 64);
  const deadLetterStream = options.deadLetterStream ?? streamKeys(redis, stream).dead;
  const startId = options.startId ?? '0';
  const skipUndecodable = options.undecodable === 'skip';
  // Redis refusing for a while (a failover: NOREPLICAS until a replica has synced; an outage) is
  // retried at most this far apart, as a reconnect is: the handler's own backoff (an API away)
  // may grow to retryMaxMs, but a consumer must not sleep 30 s past a Redis that is back.
  const redisRetryMaxMs = Math.min(retryMaxMs, 2_000);
  return {
    redis,
    blockingRedis,
    stream,
    group,
    handle,
    logger,
    decodeItems,
    name,
    batchSize,
    blockMs,
    claimIdleMs,
    claimIntervalMs,
    maxDeliveries,
    retryBaseMs,
    retryMaxMs,
    redisRetryMaxMs,
    forgetConsumersAfterMs,
    concurrency,
    deadLetterStream,
    startId,
    skipUndecodable,
  };
}

export type ResolvedConsumerOptions<T> = ReturnType<typeof resolveConsumerOptions<T>>;
