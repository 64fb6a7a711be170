import { backoffMs } from '../redis.ts';
import { confirmWritesSince, connectionGeneration } from '../replica-wait.ts';
import type { BatchesInHand } from './batches-in-hand.ts';
import type { ResolvedConsumerOptions } from './consumer-options.ts';
import { type OpenBatch, openBatch, settleOutcomes } from './entry-batch.ts';
import type { GroupReader } from './group-reader.ts';
import type { Settler } from './settler.ts';
import {
  type ConsumerEntry,
  type ConsumerStats,
  type EntryOutcome,
  type RawEntry,
  type RetryAfter,
  StopConsumingError,
} from './types.ts';
import type { Logger } from '../logger.ts';

/**
 * The batch ledger: entries read (new, own pending, or claimed) opened into items, handed to the
 * handler at most batchSize items a call, in order, and each item settled by its outcome — acked,
 * dead-lettered, or retried in memory with backoff (the server's Retry-After when it gave one)
 * until done. The handler's writes are confirmed on the replicas before the acks. Entries held
 * through a long retry are kept owned, so that nobody claims them.
 */
export function createBatchHandler<T>(parts: {
  options: ResolvedConsumerOptions<T>;
  reader: GroupReader;
  settle: Settler;
  inHand: BatchesInHand;
  stats: ConsumerStats;
  log: Logger;
  closing: () => boolean;
  pause: (ms: number) => Promise<void>;
}) {
  const { options, reader, settle, inHand, stats, log, closing, pause } = parts;
  const { redis, stream, group, name, handle, batchSize, claimIdleMs, retryBaseMs, retryMaxMs } = options;
  const opening = {
    decodeItems: options.decodeItems,
    maxDeliveries: options.maxDeliveries,
    skipUndecodable: options.skipUndecodable,
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
      if (closing()) {
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

  return processEntries;
}

export type BatchHandler = ReturnType<typeof createBatchHandler>;
