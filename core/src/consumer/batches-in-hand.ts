import type { RawEntry } from './types.ts';

/**
 * The batches read and not yet settled, and the rule that orders them:
 * - one at a time (concurrency 1, the alert rules' case: stream order): the batch in the handler,
 *   and the next one read ahead meanwhile, which is handled next — before any take-over scan or
 *   pending pass. While the handler retries, the read-ahead batch's entries are kept owned with
 *   it (`aheadIds`), so nobody claims them.
 * - several at once (concurrency > 1, consumer-store's: stores are order-free): up to that many
 *   batches in the handler; all are drained, and the first failure rethrown, before a take-over
 *   scan, a pending pass or the close.
 */
export function createBatchesInHand(concurrency: number, handleNew: (entries: RawEntry[]) => Promise<void>) {
  // The batch read ahead; its ids once it has arrived, since its entries age in the pending list too.
  let ahead: { entries: Promise<RawEntry[]>; ids: string[] } | undefined;
  const inFlight = new Set<Promise<void>>();
  let inFlightError: unknown;

  return {
    /** Starts the read of the next batch (concurrency 1), to be taken by `take()`. */
    readAhead(read: () => Promise<RawEntry[]>): void {
      const next: NonNullable<typeof ahead> = { entries: read(), ids: [] };
      next.entries.then(
        (entries) => (next.ids = entries.map(([entryId]) => entryId)),
        () => {},
      );
      ahead = next;
    },
    /** The batch read ahead, if any, for handling: from then on the handler keeps it owned. */
    take(): Promise<RawEntry[]> | undefined {
      const entries = ahead?.entries;
      ahead = undefined;
      return entries;
    },
    /** Forgets the batch read ahead: what it delivered stays pending and is read again in order. */
    drop(): void {
      ahead = undefined;
    },
    aheadIds(): readonly string[] {
      return ahead?.ids ?? [];
    },
    /** Hands a batch to the handler beside those in flight (concurrency > 1). */
    start(entries: RawEntry[]): void {
      const job: Promise<void> = handleNew(entries)
        .catch((error) => {
          inFlightError ??= error;
        })
        .finally(() => inFlight.delete(job));
      inFlight.add(job);
    },
    /** Resolves once fewer than `concurrency` batches are in flight. */
    async room(): Promise<void> {
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
    },
    failed(): boolean {
      return inFlightError !== undefined;
    },
    /** Waits for every batch in flight; rethrows the first failure among them. */
    async drain(): Promise<void> {
      while (inFlight.size > 0) await Promise.race(inFlight);
      if (inFlightError !== undefined) {
        const error = inFlightError;
        inFlightError = undefined;
        throw error;
      }
    },
  };
}
export type BatchesInHand = ReturnType<typeof createBatchesInHand>;
