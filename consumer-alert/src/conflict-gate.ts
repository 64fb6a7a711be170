import {
  type ConsumerEntry,
  type EntryOutcome,
  type Logger,
  type Reading,
  conflictsAmong,
  entryReadingKey,
  waitForGroup,
} from 'core';
import type Redis from 'ioredis';

export interface ConflictGateOptions {
  redis: Redis;
  /** The readings stream, beside which the store group records conflicts. */
  readingsStream: string;
  /** The partition the batches come from, whose store group is waited for: default the stream itself. */
  partition?: string;
  /** The group that stores readings (STORE_GROUP), whose verdict on conflicts is waited for. */
  storeGroup: string;
  /** How long after a reading arrives its verdict is waited for (ALERT_WAIT_FOR_STORE_MS); 0: not at all. */
  waitMs: number;
  logger: Logger;
}

/**
 * Keeps readings that conflict with a stored one (same id, other content) from being evaluated:
 * storage keeps the first version, and an alert on the other is an alert on a value that was
 * never kept. Before a batch is evaluated, the store group's verdict on it is waited for — up to
 * `waitMs` after the batch's last reading arrived, so that a storage outage delays alerts by that
 * much at most (then they are evaluated without it, and a conflict among them can alert) — and
 * the readings it found in conflict are acknowledged without evaluation.
 */
export function conflictGate({ redis, readingsStream, partition, storeGroup, waitMs, logger }: ConflictGateOptions) {
  let skipped = 0;
  let unverified = 0;
  return {
    /** Evaluates `batch` with `evaluate`, less its conflicts; answers for the whole batch, in order. */
    async handle(
      batch: ReadonlyArray<ConsumerEntry<Reading>>,
      evaluate: (
        batch: ReadonlyArray<ConsumerEntry<Reading>>,
      ) => Promise<ReadonlyArray<EntryOutcome> | undefined | void>,
    ): Promise<ReadonlyArray<EntryOutcome> | undefined | void> {
      const last = batch.at(-1);
      if (!last || waitMs === 0) return evaluate(batch);
      if (!(await waitForGroup(redis, partition ?? readingsStream, storeGroup, last.entryId, waitMs))) {
        unverified += batch.length;
        if (unverified === batch.length)
          logger.warn('evaluating_ahead_of_storage', {
            waitedMs: waitMs,
            hint: 'storage is behind: readings are evaluated without its verdict on conflicts',
          });
      } else unverified = 0;
      const conflicting = await conflictsAmong(
        redis,
        readingsStream,
        batch.map((entry) => ({ entryId: entry.entryId, readingId: entry.value.id })),
      );
      if (conflicting.size === 0) return evaluate(batch);
      const kept = batch.filter(
        (entry) => !conflicting.has(entryReadingKey({ entryId: entry.entryId, readingId: entry.value.id })),
      );
      skipped += batch.length - kept.length;
      logger.info('conflicts_not_evaluated', { readings: batch.length - kept.length });
      const outcomes = kept.length > 0 ? await evaluate(kept) : undefined;
      if (!outcomes) return undefined;
      // The evaluator answered for the kept ones: the conflicting ones are done.
      const byEntry = new Map(kept.map((entry, index) => [entry, outcomes[index] ?? 'retry'] as const));
      return batch.map((entry) => byEntry.get(entry) ?? 'done');
    },
    /** Conflicting readings not evaluated since start. */
    get skipped() {
      return skipped;
    },
  };
}
