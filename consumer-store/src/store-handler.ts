import {
  type ConsumerEntry,
  type EntryOutcome,
  type EntryReading,
  type Logger,
  type Reading,
  createLatencyHistogram,
} from 'core';
import { type ApiClient, TransientApiError } from './api-client.ts';

export interface StoreCounters {
  inserted: number;
  duplicates: number;
  /** Readings the API refused or found in conflict: dead-lettered. */
  rejected: number;
  conflicts: number;
}

/**
 * The store group's handler: sends a batch to the API and says, per entry, done or dead.
 * Items the API refuses or finds in conflict (answered by index while it stores the rest) are
 * dead-lettered; after a 422 naming items (an API that refuses whole batches) the rest are sent
 * again; a batch the API finds too large is split. Conflicts are handed to `onConflicts` before
 * the batch is answered (so before its entries are acknowledged): the alerts group reads them
 * there. Lead time (reading ts → API answered) and batch time are recorded.
 */
export function createStoreHandler(
  client: ApiClient,
  logger: Logger,
  faultRate = 0,
  onConflicts: (found: EntryReading[]) => Promise<void> = async () => {},
) {
  const counters: StoreCounters = { inserted: 0, duplicates: 0, rejected: 0, conflicts: 0 };
  const leadTime = createLatencyHistogram();
  const batchTime = createLatencyHistogram();

  /** Dead-letters the entries the API named (by position in what was sent); returns the others. */
  const setAside = (
    indexes: readonly number[],
    named: ReadonlyMap<number, string>,
    outcomes: EntryOutcome[],
  ): number[] =>
    indexes.filter((index, position) => {
      const reason = named.get(position);
      if (reason === undefined) return true;
      outcomes[index] = { dead: reason };
      counters.rejected += 1;
      return false;
    });

  const send = async (
    batch: ReadonlyArray<ConsumerEntry<Reading>>,
    indexes: number[],
    outcomes: EntryOutcome[],
  ): Promise<void> => {
    if (indexes.length === 0) return;
    const reply = await client.postBatch(indexes.map((index) => (batch[index] as ConsumerEntry<Reading>).value));
    if (reply.kind === 'stored') {
      if (reply.conflicted.size > 0) {
        await onConflicts(
          [...reply.conflicted].map((position) => {
            const entry = batch[indexes[position] as number] as ConsumerEntry<Reading>;
            return { entryId: entry.entryId, readingId: entry.value.id };
          }),
        );
      }
      counters.inserted += reply.inserted;
      counters.duplicates += reply.duplicates;
      counters.conflicts += reply.conflicts;
      const now = Date.now();
      // The rest of the batch is stored: the named ones alone go to the dead letters, no retry.
      for (const index of setAside(indexes, reply.rejected, outcomes))
        leadTime.observe(now - (batch[index] as ConsumerEntry<Reading>).value.ts);
      return;
    }
    if (reply.kind === 'invalid') return send(batch, setAside(indexes, reply.invalid, outcomes), outcomes);
    if (indexes.length === 1) {
      outcomes[indexes[0] as number] = { dead: 'rejected by the API: too large' };
      counters.rejected += 1;
      return;
    }
    const half = Math.ceil(indexes.length / 2);
    logger.warn('batch_too_large_splitting', { size: indexes.length });
    await send(batch, indexes.slice(0, half), outcomes);
    await send(batch, indexes.slice(half), outcomes);
  };

  return {
    counters,
    leadTime,
    batchTime,
    async handle(batch: ReadonlyArray<ConsumerEntry<Reading>>): Promise<EntryOutcome[]> {
      const started = performance.now();
      if (faultRate > 0 && Math.random() < faultRate)
        throw new TransientApiError(`FAULT_RATE=${faultRate}: this batch failed on purpose`);
      const outcomes: EntryOutcome[] = batch.map(() => 'done');
      await send(
        batch,
        batch.map((_, index) => index),
        outcomes,
      );
      batchTime.observe(performance.now() - started);
      return outcomes;
    },
  };
}
