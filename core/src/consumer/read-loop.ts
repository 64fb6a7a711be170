import type Redis from 'ioredis';
import type { Logger } from '../logger.ts';
import { backoffMs } from '../redis.ts';
import { isRedisOutOfMemory } from '../redis-errors.ts';
import type { BatchHandler } from './batch-handler.ts';
import type { BatchesInHand } from './batches-in-hand.ts';
import type { Claimer } from './claimer.ts';
import type { ResolvedConsumerOptions } from './consumer-options.ts';
import { type GroupReader, ReconnectedError } from './group-reader.ts';
import { readGroups } from './groups.ts';
import { type RawEntry, StopConsumingError } from './types.ts';

/**
 * The consumer's loop, until it closes or stops for good: the group made if missing, this
 * consumer's own pending entries first (what a crash or a dropped read left), then new ones —
 * read ahead of the handler, or several batches at once — with a take-over scan of dead
 * consumers' entries now and then; an error drops what was in hand (it stays pending) and starts
 * over from the pending entries. At close, the batches in hand are finished and acknowledged.
 */
export async function runReadLoop<T>(parts: {
  options: ResolvedConsumerOptions<T>;
  reader: GroupReader;
  inHand: BatchesInHand;
  processEntries: BatchHandler;
  claimIdle: Claimer;
  log: Logger;
  closing: () => boolean;
  pause: (ms: number) => Promise<void>;
}): Promise<{ reason: 'closed' | 'stopped'; message?: string }> {
  const { options, reader, inHand, processEntries, claimIdle, log, closing, pause } = parts;
  const { redis, stream, group, startId, claimIntervalMs, concurrency, retryBaseMs, redisRetryMaxMs } = options;
  const ensureGroup = async () => {
    if (await createGroupIfMissing(redis, stream, group, startId)) log.info('group_created', { startId });
  };
  let cursor = '0';
  let failures = 0;
  let nextClaimAt = 0;
  let groupReady = false;
  while (!closing()) {
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
          if (!closing()) inHand.readAhead(() => reader.read('>'));
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
      if (closing()) break;
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
}

/**
 * XGROUP CREATE (MKSTREAM); false when the group was there already. A full Redis refuses XGROUP
 * CREATE before it looks whether the group exists: a consumer that could drain it must not wait
 * for room it is the one to make, so an existing group is looked for then.
 */
async function createGroupIfMissing(redis: Redis, stream: string, group: string, startId: string): Promise<boolean> {
  try {
    await redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM');
    return true;
  } catch (error) {
    if (String((error as Error).message).includes('BUSYGROUP')) return false;
    if (
      isRedisOutOfMemory(error) &&
      (await readGroups(redis, stream).catch(() => [])).some((existing) => existing.name === group)
    )
      return false;
    throw error;
  }
}
