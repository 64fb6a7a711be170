/** The consumer runner's vocabulary, shared by its parts (consumer.ts and the files beside it). */

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

export interface Consumer {
  readonly name: string;
  /** Runs until close() or a StopConsumingError; resolves with the reason it stopped. */
  run(): Promise<{ reason: 'closed' | 'stopped'; message?: string }>;
  /** Stops reading, finishes and acks the batch in hand. Idempotent. */
  close(): Promise<void>;
  stats(): Readonly<ConsumerStats>;
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

/** An item of an entry, decoded, or why not; with its own fields (for its dead letter). */
export type DecodedItem<T> = { value: T; fields: readonly string[] } | { error: string; fields: readonly string[] };

/** An entry as XREADGROUP and XAUTOCLAIM give it: no fields once deleted from the stream. */
export type RawEntry = [entryId: string, fields: string[] | null];
