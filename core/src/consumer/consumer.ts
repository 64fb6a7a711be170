import type Redis from 'ioredis';
import { defaultInstanceName } from '../instance.ts';
import type { Logger } from '../logger.ts';
import { backoffMs } from '../redis.ts';
import { createSleeper } from '../sleeper.ts';
import { type DeadLetter, queueDeadLetterEntries } from './dead-letter.ts';
import { readConsumers, readGroups } from './groups.ts';
import { isRedisOutOfMemory } from '../redis-errors.ts';
import { confirmWritesSince, connectionGeneration } from '../replica-wait.ts';
import { streamKeys } from '../keys.ts';

/** What the handler says of each entry: ack it, try it again later, or dead-letter it (and ack). */
export type EntryOutcome = 'done' | 'retry' | { dead: string };

export interface ConsumerEntry<T> {
  /** The stream entry id (shared by the items of one entry: a frame's readings). */
  entryId: string;
  value: T;
  /** How many times Redis has delivered it (1 on first delivery). */
  deliveries: number;
}

/**
 * Thrown by a handler when retrying cannot help (a bad API token): the consumer stops reading and
 * leaves its entries pending, so nothing is lost; a fixed deployment picks them up.
 */
export class StopConsumingError extends Error {
  override readonly name = 'StopConsumingError';
}

/** A handler error may say how long to wait before the retry (an HTTP Retry-After). */
export interface RetryAfter {
  retryAfterMs?: number;
}

/** The connection that reads was made again while a read was out: start over from the pending entries. */
class ReconnectedError extends Error {
  override readonly name = 'ReconnectedError';
  constructor() {
    super('Redis connection renewed during a read (a restart or a failover): re-reading own pending entries first');
  }
}

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

export interface ConsumerStats {
  delivered: number;
  acked: number;
  retried: number;
  deadLettered: number;
  /** Items that did not decode, acknowledged without a dead letter (`undecodable: 'skip'`). */
  skipped: number;
  claimed: number;
  handlerRuns: number;
  handlerMsTotal: number;
  handlerMsMax: number;
}

/** Every counter at zero: a consumer's at start, and a sum's before the first term. */
export function emptyConsumerStats(): ConsumerStats {
  return {
    delivered: 0,
    acked: 0,
    retried: 0,
    deadLettered: 0,
    skipped: 0,
    claimed: 0,
    handlerRuns: 0,
    handlerMsTotal: 0,
    handlerMsMax: 0,
  };
}

export interface Consumer {
  readonly name: string;
  /** Runs until close() or a StopConsumingError; resolves with the reason it stopped. */
  run(): Promise<{ reason: 'closed' | 'stopped'; message?: string }>;
  /** Stops reading, finishes and acks the batch in hand. Idempotent. */
  close(): Promise<void>;
  stats(): Readonly<ConsumerStats>;
}

/** An item of an entry, decoded, or why not; with its own fields (for its dead letter). */
export type DecodedItem<T> = { value: T; fields: readonly string[] } | { error: string; fields: readonly string[] };

type RawEntry = [entryId: string, fields: string[] | null];

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

  // Counts the blocking connection's reconnects. After one — a Redis restarted, or a failover to
  // a replica, which holds a prefix of the old primary's writes (acks included) — the group may
  // hold again as pending entries this consumer already handled there: they must be handled again
  // before any new one (the alert rules depend on stream order), as at a fresh start. So a read
  // that answers across a reconnect is dropped (what it delivered is pending) and the loop starts
  // over from its own pending entries.
  let connection = 0;
  let connected = blockingRedis.status === 'ready';
  const onReady = () => {
    if (connected) connection += 1;
    connected = true;
  };
  // Removed at close: a consumer made anew on the same connection (the evaluator's, per lease) adds its own.
  blockingRedis.on('ready', onReady);

  // Items per entry lately (1 without frames): a read asks for about batchSize items' worth of entries.
  let itemsPerEntry = 1;
  const read = async (id: string): Promise<RawEntry[]> => {
    const args: Array<string | number> = [
      'GROUP',
      group,
      name,
      'COUNT',
      Math.max(1, Math.round(batchSize / itemsPerEntry)),
    ];
    if (id === '>') args.push('BLOCK', blockMs);
    const before = connection;
    const generation = connectionGeneration(blockingRedis);
    const reply = (await blockingRedis.call('XREADGROUP', ...args, 'STREAMS', stream, id)) as Array<
      [string, RawEntry[]]
    > | null;
    const entries = reply?.[0]?.[1] ?? [];
    // With REDIS_MIN_REPLICAS, nothing is acted on that only the primary holds: an old primary
    // woken from a partition answers reads of entries the new one never had (WAIT finds no
    // replica there, and the read is dropped; the entries stay pending where they exist).
    if (entries.length > 0 && connection === before) await confirmWritesSince(blockingRedis, generation);
    if (connection !== before) throw new ReconnectedError();
    return entries;
  };

  /** Delivery counts of entries re-read or claimed (XREADGROUP and XAUTOCLAIM do not return them). */
  const deliveryCounts = async (entries: RawEntry[]): Promise<Map<string, number>> => {
    const first = entries[0]?.[0] as string;
    const last = entries.at(-1)?.[0] as string;
    const rows = (await redis.call('XPENDING', stream, group, first, last, entries.length, name)) as Array<
      [string, string, number, number]
    >;
    return new Map(rows.map(([id, , , count]) => [id, Number(count)]));
  };

  /**
   * Dead letters and acks in one MULTI; retried until Redis takes it (the effect is already
   * durable). `acks` are the entries all of whose items are settled (dead-lettered ones included).
   */
  const settle = async (acks: string[], dead: DeadLetter[]) => {
    if (acks.length === 0 && dead.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      try {
        if (dead.length === 0) {
          // A plain XACK, not a MULTI: a full Redis refuses every command queued in a MULTI, and
          // acknowledging (which frees memory once the stream is trimmed) must work then too.
          await redis.xack(stream, group, ...acks);
        } else {
          const multi = redis.multi();
          queueDeadLetterEntries(multi, { stream, group, consumer: name, deadStream: deadLetterStream }, dead);
          if (acks.length > 0) multi.xack(stream, group, ...acks);
          const results = await multi.exec();
          const failed = results?.find(([error]) => error);
          if (!results || failed) throw failed?.[0] ?? new Error('MULTI was discarded');
        }
        stats.acked += acks.length;
        stats.deadLettered += dead.length;
        for (const letter of dead)
          log.warn('dead_lettered', {
            entryId: letter.entryId,
            reason: letter.reason,
            deliveries: letter.deliveries,
            deadLetterStream,
          });
        return;
      } catch (error) {
        if (attempt === 0) log.warn('ack_failed_retrying', { error });
        // Closing with Redis away: leave them pending; redelivery is harmless, stores are idempotent.
        if (closing && attempt >= 3) return;
        await Bun.sleep(backoffMs(attempt, retryBaseMs, redisRetryMaxMs));
      }
    }
  };

  // The batch read ahead while another is handled (concurrency 1); its ids once it has arrived,
  // since its entries age in the pending list as well.
  let readAhead: { entries: Promise<RawEntry[]>; ids: string[] } | undefined;

  /** Resets the idle time of entries this consumer is still working on (and has read ahead), so nobody claims them. */
  const keepOwnership = async (batch: ReadonlyArray<ConsumerEntry<T>>) => {
    const ids = new Set([...batch.map((entry) => entry.entryId), ...(readAhead?.ids ?? [])]);
    await redis.call('XCLAIM', stream, group, name, 0, ...ids, 'JUSTID');
  };

  /** Takes the batch read ahead, if any, for handling: from then on the handler keeps it owned. */
  const takeReadAhead = (): Promise<RawEntry[]> | undefined => {
    const entries = readAhead?.entries;
    readAhead = undefined;
    return entries;
  };

  /**
   * Handles `work` until every item is settled. `open` counts each entry's unsettled items; an
   * entry is acknowledged when its count reaches 0. `itemOf` holds each entry's item, whose fields
   * a dead letter takes (made only then: a frame's item makes them when asked).
   */
  const runHandler = async (
    work: Array<ConsumerEntry<T>>,
    itemOf: Map<ConsumerEntry<T>, DecodedItem<T>>,
    open: Map<string, number>,
  ): Promise<boolean> => {
    let pending = work;
    let lastTouch = Date.now();
    for (let attempt = 0; pending.length > 0; attempt++) {
      const started = performance.now();
      let outcomes: ReadonlyArray<EntryOutcome> | undefined | void;
      let failure: unknown;
      const generation = connectionGeneration(redis);
      try {
        outcomes = await handle(pending);
        // The handler's writes on this connection (the alert state and alerts) on a replica
        // before the acks, and made on the primary the acks go to: else the batch is handled
        // again, before any later one (a failover between them would reorder the evaluation).
        await confirmWritesSince(redis, generation);
      } catch (error) {
        failure = error;
      }
      const elapsed = performance.now() - started;
      stats.handlerRuns += 1;
      stats.handlerMsTotal += elapsed;
      stats.handlerMsMax = Math.max(stats.handlerMsMax, elapsed);
      if (failure instanceof StopConsumingError) throw failure;

      let retryAfterMs = 0;
      if (failure) {
        retryAfterMs = (failure as RetryAfter).retryAfterMs ?? 0;
        if (attempt === 0 || attempt % 10 === 0)
          log.warn('handler_failed_retrying', { error: failure, entries: pending.length, attempt });
      } else {
        const acks: string[] = [];
        const dead: DeadLetter[] = [];
        const again: Array<ConsumerEntry<T>> = [];
        const settled = (entryId: string) => {
          const left = (open.get(entryId) ?? 1) - 1;
          if (left > 0) open.set(entryId, left);
          else {
            open.delete(entryId);
            acks.push(entryId);
          }
        };
        pending.forEach((entry, index) => {
          const outcome = outcomes ? (outcomes[index] ?? 'retry') : 'done';
          if (outcome === 'retry') return void again.push(entry);
          if (outcome !== 'done')
            dead.push({
              entryId: entry.entryId,
              fields: itemOf.get(entry)?.fields ?? null,
              reason: outcome.dead,
              deliveries: entry.deliveries,
            });
          settled(entry.entryId);
        });
        await settle(acks, dead);
        pending = again;
        if (pending.length === 0) return true;
      }
      stats.retried += pending.length;
      // Closing mid-retry: the entries stay pending and the next start takes them up again — the
      // batch read ahead too, which must not be handled at close before them (stream order).
      if (closing) {
        readAhead = undefined;
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
    const counts = source === 'new' ? undefined : await deliveryCounts(entries);
    // Acked at once: entries gone from the stream, or dead-lettered whole.
    const acks: string[] = [];
    const dead: DeadLetter[] = [];
    const work: Array<ConsumerEntry<T>> = [];
    // Each entry's item, whose fields go with the dead letters the handler asks for.
    const itemOf = new Map<ConsumerEntry<T>, DecodedItem<T>>();
    const open = new Map<string, number>();
    let items = 0;
    for (const [entryId, fields] of entries) {
      const deliveries = counts?.get(entryId) ?? 1;
      if (fields === null) {
        // Deleted from the stream while pending: nothing left to process.
        acks.push(entryId);
        continue;
      }
      if (deliveries > maxDeliveries) {
        dead.push({
          entryId,
          fields,
          reason: `delivered ${deliveries} times (maxDeliveries ${maxDeliveries})`,
          deliveries,
        });
        acks.push(entryId);
        continue;
      }
      let decoded: ReadonlyArray<DecodedItem<T>>;
      try {
        decoded = decodeItems(fields);
      } catch (error) {
        if (skipUndecodable) stats.skipped += 1;
        else dead.push({ entryId, fields, reason: (error as Error).message, deliveries });
        acks.push(entryId);
        continue;
      }
      items += decoded.length;
      let valid = 0;
      for (const item of decoded) {
        if ('error' in item) {
          if (skipUndecodable) stats.skipped += 1;
          else dead.push({ entryId, fields: item.fields, reason: item.error, deliveries });
          continue;
        }
        const entry: ConsumerEntry<T> = { entryId, value: item.value, deliveries };
        work.push(entry);
        itemOf.set(entry, item);
        valid += 1;
      }
      if (valid > 0) open.set(entryId, valid);
      else acks.push(entryId);
    }
    stats.delivered += entries.length;
    if (entries.length > 0) itemsPerEntry = Math.max(1, (itemsPerEntry + items / entries.length) / 2);
    await settle(acks, dead);
    // At most batchSize items per handler call, in order; an entry may span two calls.
    // A chunk left unsettled (closing mid-retry) stops the rest, which stay pending, in order.
    for (let start = 0; start < work.length; start += batchSize) {
      if (!(await runHandler(work.slice(start, start + batchSize), itemOf, open))) return;
    }
  };

  // Batches of new entries still in the handler (concurrency > 1), and the first error one hit.
  const inFlight = new Set<Promise<void>>();
  let inFlightError: unknown;
  const startInFlight = (entries: RawEntry[]) => {
    const job: Promise<void> = processEntries(entries, 'new')
      .catch((error) => {
        inFlightError ??= error;
      })
      .finally(() => inFlight.delete(job));
    inFlight.add(job);
  };
  const drainInFlight = async () => {
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (inFlightError !== undefined) {
      const error = inFlightError;
      inFlightError = undefined;
      throw error;
    }
  };

  const claimIdle = async () => {
    let cursor = '0-0';
    do {
      const [next, entries] = (await redis.call(
        'XAUTOCLAIM',
        stream,
        group,
        name,
        claimIdleMs,
        cursor,
        'COUNT',
        batchSize,
      )) as [string, RawEntry[]];
      if (entries.length > 0) {
        stats.claimed += entries.length;
        log.info('claimed', { entries: entries.length });
        await processEntries(entries, 'claimed');
      }
      cursor = next;
    } while (cursor !== '0-0' && !closing);
    await forgetIdleConsumers();
  };

  const forgetIdleConsumers = async () => {
    for (const consumer of await readConsumers(redis, stream, group)) {
      if (consumer.name !== name && consumer.pending === 0 && consumer.idle > forgetConsumersAfterMs) {
        await redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer.name);
        log.info('consumer_forgotten', { forgotten: consumer.name, idleMs: consumer.idle });
      }
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
          await drainInFlight();
          // A batch read ahead is handled first: after a long retry it is idle enough to be
          // claimed, and claiming it here as well would hand it to the handler twice.
          const ahead = takeReadAhead();
          if (ahead) {
            const entries = await ahead;
            if (entries.length > 0) await processEntries(entries, 'new');
          }
          await claimIdle();
          nextClaimAt = Date.now() + claimIntervalMs;
        }
        if (inFlightError !== undefined) await drainInFlight();
        if (cursor === '>') {
          while (inFlight.size >= concurrency) await Promise.race(inFlight);
          const entries = await (takeReadAhead() ?? read('>'));
          if (entries.length === 0) continue;
          if (concurrency === 1) {
            // Read the next batch while this one is handled; handling stays one batch at a
            // time, in stream order (the alert rules depend on it).
            if (!closing) {
              const ahead: NonNullable<typeof readAhead> = { entries: read('>'), ids: [] };
              ahead.entries.then(
                (next) => (ahead.ids = next.map(([entryId]) => entryId)),
                () => {},
              );
              readAhead = ahead;
            }
            await processEntries(entries, 'new');
          } else startInFlight(entries);
        } else {
          await drainInFlight();
          // Own pending entries first: what a crash left unacknowledged.
          const entries = await read(cursor);
          if (entries.length === 0) cursor = '>';
          else {
            cursor = entries.at(-1)?.[0] as string;
            await processEntries(entries, 'pending');
          }
        }
        failures = 0;
      } catch (error) {
        await drainInFlight().catch(() => {});
        // A read already under way is dropped: what it delivered stays pending and is re-read below.
        readAhead = undefined;
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
    await drainInFlight().catch((error) => log.warn('batch_failed_at_close', { error }));
    const lastAhead = takeReadAhead();
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
        blockingRedis.off('ready', onReady);
        sleeper.wakeAll();
        if (!running) return;
        // A blocked read returns within blockMs; if Redis is away it would wait for the
        // reconnect, so cut the connection then (what it had delivered stays pending).
        const finished = await Promise.race([running.then(() => true), Bun.sleep(blockMs + 1_000).then(() => false)]);
        if (!finished) blockingRedis.disconnect();
        await running;
      })();
      return closed;
    },
    stats: () => ({ ...stats }),
  };
}
