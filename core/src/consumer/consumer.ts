import type Redis from 'ioredis';
import { defaultInstanceName } from '../instance.ts';
import { streamKeys } from '../keys.ts';
import type { Logger } from '../logger.ts';
import { backoffMs } from '../redis.ts';
import { isRedisOutOfMemory } from '../redis-errors.ts';
import { confirmWritesSince, connectionGeneration } from '../replica-wait.ts';
import { createSleeper } from '../sleeper.ts';
import { createBatchesInHand } from './batches-in-hand.ts';
import { createClaimer } from './claimer.ts';
import { type OpenBatch, openBatch, settleOutcomes } from './entry-batch.ts';
import { ReconnectedError, createGroupReader } from './group-reader.ts';
import { readGroups } from './groups.ts';
import { createSettler } from './settler.ts';
import {
  type Consumer,
  type ConsumerEntry,
  type ConsumerStats,
  type DecodedItem,
  type EntryOutcome,
  type RawEntry,
  type RetryAfter,
  StopConsumingError,
  emptyConsumerStats,
} from './types.ts';

export {
  type Consumer,
  type ConsumerEntry,
  type ConsumerStats,
  type DecodedItem,
  type EntryOutcome,
  type RetryAfter,
  StopConsumingError,
  emptyConsumerStats,
} from './types.ts';

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
 * The one consumer-group loop: at-least-once delivery with acks only after the handler's effect
 * is durable, own pending entries re-read on start, dead consumers' entries taken over, poison
 * entries dead-lettered, and transient failures retried in memory with backoff (so an outage does
 * not count as deliveries). Options are validated here, before anything runs.
 */
export function createConsumer<T>(options: ConsumerOptions<T>): Consumer {
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
  const log = logger.child({ stream, group, consumer: name });

  const stats = emptyConsumerStats();
  let closing = false;
  let running: Promise<{ reason: 'closed' | 'stopped'; message?: string }> | undefined;
  let closed: Promise<void> | undefined;
  // Backoff sleeps that close() cuts short.
  const sleeper = createSleeper();
  const pause = sleeper.sleep;
  const isClosing = () => closing;

  // The parts, each in its own file: reading the group, settling (acks and dead letters), taking
  // over what dead consumers left, and the batches in hand with their ordering rule.
  const reader = createGroupReader({ redis, blockingRedis, stream, group, consumer: name, batchSize, blockMs });
  const settle = createSettler({
    redis,
    stream,
    group,
    consumer: name,
    deadLetterStream,
    stats,
    log,
    closing: isClosing,
    retryBaseMs,
    retryMaxMs: redisRetryMaxMs,
  });
  const claimIdle = createClaimer({
    redis,
    stream,
    group,
    consumer: name,
    claimIdleMs,
    batchSize,
    forgetConsumersAfterMs,
    stats,
    log,
    closing: isClosing,
  });
  const inHand = createBatchesInHand(concurrency, (entries) => processEntries(entries, 'new'));
  const opening = { decodeItems, maxDeliveries, skipUndecodable };

  const ensureGroup = async () => {
    try {
      await redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM');
      log.info('group_created', { startId });
    } catch (error) {
      if (String((error as Error).message).includes('BUSYGROUP')) return;
      // A full Redis refuses XGROUP CREATE before it looks whether the group exists: a consumer
      // that could drain it must not wait for room it is the one to make.
      if (
        isRedisOutOfMemory(error) &&
        (await readGroups(redis, stream).catch(() => [])).some((existing) => existing.name === group)
      )
        return;
      throw error;
    }
  };

  /** Resets the idle time of entries this consumer is still working on (and has read ahead), so nobody claims them. */
  const keepOwnership = async (batch: ReadonlyArray<ConsumerEntry<T>>) => {
    const ids = new Set([...batch.map((entry) => entry.entryId), ...inHand.aheadIds()]);
    await redis.call('XCLAIM', stream, group, name, 0, ...ids, 'JUSTID');
  };

  /** Calls the handler once; its outcomes, or the error it threw. Its writes confirmed on the replicas first. */
  const callHandler = async (
    pending: ReadonlyArray<ConsumerEntry<T>>,
  ): Promise<{ outcomes?: ReadonlyArray<EntryOutcome> | undefined | void; failure?: unknown }> => {
    const started = performance.now();
    const generation = connectionGeneration(redis);
    try {
      const outcomes = await handle(pending);
      // The handler's writes on this connection (the alert state and alerts) on a replica
      // before the acks, and made on the primary the acks go to: else the batch is handled
      // again, before any later one (a failover between them would reorder the evaluation).
      await confirmWritesSince(redis, generation);
      return { outcomes };
    } catch (failure) {
      return { failure };
    } finally {
      const elapsed = performance.now() - started;
      stats.handlerRuns += 1;
      stats.handlerMsTotal += elapsed;
      stats.handlerMsMax = Math.max(stats.handlerMsMax, elapsed);
    }
  };

  /**
   * Handles `work` (items of `batch`) until every item is settled; false when closing left some
   * unsettled (they stay pending, and the batch read ahead is dropped: stream order).
   */
  const runHandler = async (work: Array<ConsumerEntry<T>>, batch: OpenBatch<T>): Promise<boolean> => {
    let pending = work;
    let lastTouch = Date.now();
    for (let attempt = 0; pending.length > 0; attempt++) {
      const { outcomes, failure } = await callHandler(pending);
      if (failure instanceof StopConsumingError) throw failure;
      let retryAfterMs = 0;
      if (failure) {
        retryAfterMs = (failure as RetryAfter).retryAfterMs ?? 0;
        if (attempt === 0 || attempt % 10 === 0)
          log.warn('handler_failed_retrying', { error: failure, entries: pending.length, attempt });
      } else {
        const { acks, dead, again } = settleOutcomes(batch, pending, outcomes);
        await settle(acks, dead);
        pending = again;
        if (pending.length === 0) return true;
      }
      stats.retried += pending.length;
      if (closing) {
        inHand.drop();
        return false;
      }
      if (Date.now() - lastTouch > claimIdleMs / 3) {
        await keepOwnership(pending);
        lastTouch = Date.now();
      }
      // The server's Retry-After, when it gave one, rather than a backoff grown by earlier failures.
      await pause(retryAfterMs > 0 ? retryAfterMs : backoffMs(attempt, retryBaseMs, retryMaxMs));
    }
    return true;
  };

  const processEntries = async (entries: RawEntry[], source: 'new' | 'pending' | 'claimed') => {
    const counts = source === 'new' ? undefined : await reader.deliveryCounts(entries);
    const batch = openBatch(entries, counts, opening);
    stats.delivered += entries.length;
    stats.skipped += batch.skipped;
    reader.sized(entries.length, batch.items);
    // Acked at once: entries gone from the stream, dead-lettered whole, or with no valid item.
    await settle(batch.acks, batch.dead);
    // At most batchSize items per handler call, in order; an entry may span two calls.
    // A chunk left unsettled (closing mid-retry) stops the rest, which stay pending, in order.
    for (let start = 0; start < batch.work.length; start += batchSize) {
      if (!(await runHandler(batch.work.slice(start, start + batchSize), batch))) return;
    }
  };

  const loop = async (): Promise<{ reason: 'closed' | 'stopped'; message?: string }> => {
    let cursor = '0';
    let failures = 0;
    let nextClaimAt = 0;
    let groupReady = false;
    while (!closing) {
      try {
        if (!groupReady) {
          await ensureGroup();
          groupReady = true;
        }
        // Idle entries are claimed only once this consumer's own pending ones are handled (cursor
        // '>'): XAUTOCLAIM takes its own as well, by idle time, and after a dropped read (a failover)
        // a later entry can be idler than an earlier one re-read since — handled first, it would
        // put the alert rules' stream order out.
        if (cursor === '>' && Date.now() >= nextClaimAt) {
          await inHand.drain();
          // A batch read ahead is handled first: after a long retry it is idle enough to be
          // claimed, and claiming it here as well would hand it to the handler twice.
          const ahead = inHand.take();
          if (ahead) {
            const entries = await ahead;
            if (entries.length > 0) await processEntries(entries, 'new');
          }
          await claimIdle((entries) => processEntries(entries, 'claimed'));
          nextClaimAt = Date.now() + claimIntervalMs;
        }
        if (inHand.failed()) await inHand.drain();
        if (cursor === '>') {
          await inHand.room();
          const entries = await (inHand.take() ?? reader.read('>'));
          if (entries.length === 0) continue;
          if (concurrency === 1) {
            // Read the next batch while this one is handled; handling stays one batch at a
            // time, in stream order (the alert rules depend on it).
            if (!closing) inHand.readAhead(() => reader.read('>'));
            await processEntries(entries, 'new');
          } else inHand.start(entries);
        } else {
          await inHand.drain();
          // Own pending entries first: what a crash left unacknowledged.
          const entries = await reader.read(cursor);
          if (entries.length === 0) cursor = '>';
          else {
            cursor = entries.at(-1)?.[0] as string;
            await processEntries(entries, 'pending');
          }
        }
        failures = 0;
      } catch (error) {
        await inHand.drain().catch(() => {});
        // A read already under way is dropped: what it delivered stays pending and is re-read below.
        inHand.drop();
        if (error instanceof StopConsumingError) {
          log.error('consumer_stopped', { reason: error.message });
          return { reason: 'stopped', message: error.message };
        }
        if (closing) break;
        if (error instanceof ReconnectedError) {
          log.info('reconnected_rereading_pending', {
            hint: 'a Redis restart or failover: own pending entries are handled again before new ones',
          });
        } else if (String((error as Error).message).includes('NOGROUP')) {
          log.warn('group_missing_recreating', { error });
          groupReady = false;
        } else {
          if (failures === 0) log.warn('consumer_error_retrying', { error });
          failures += 1;
          await pause(backoffMs(failures, retryBaseMs, redisRetryMaxMs));
        }
        // Whatever was in hand is still pending: read it again before new entries.
        cursor = '0';
      }
    }
    // Closing: finish and ack the batches still in hand, one read ahead included.
    await inHand.drain().catch((error) => log.warn('batch_failed_at_close', { error }));
    const lastAhead = inHand.take();
    const lastRead = lastAhead ? await lastAhead.catch(() => [] as RawEntry[]) : [];
    if (lastRead.length > 0)
      await processEntries(lastRead, 'new').catch((error) => log.warn('batch_failed_at_close', { error }));
    return { reason: 'closed' };
  };

  return {
    name,
    run() {
      running ??= loop();
      return running;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        reader.detach();
        sleeper.wakeAll();
        if (!running) return;
        // A blocked read returns within blockMs; if Redis is away it would wait for the
        // reconnect, so cut it and its connection then (what it had delivered stays pending).
        const finished = await Promise.race([running.then(() => true), Bun.sleep(blockMs + 1_000).then(() => false)]);
        if (!finished) {
          log.warn('close_cut_read', {
            hint: `no answer from Redis within ${blockMs + 1_000} ms: the read and its connection are cut; what it delivered stays pending`,
          });
          reader.cut();
          blockingRedis.disconnect();
        }
        await running;
      })();
      return closed;
    },
    stats: () => ({ ...stats }),
  };
}
