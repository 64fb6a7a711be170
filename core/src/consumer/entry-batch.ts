import type { DeadLetter } from './dead-letter.ts';
import type { ConsumerEntry, DecodedItem, EntryOutcome, RawEntry } from './types.ts';

/**
 * The batch ledger: what a read's entries become for the handler, and what the handler's
 * outcomes make of them. No Redis here: the settler acknowledges and dead-letters what this says.
 */

/** How entries are opened: decoded into items, or set aside. */
export interface OpeningRules<T> {
  decodeItems: (fields: string[]) => ReadonlyArray<DecodedItem<T>>;
  /** An entry delivered more often than this is dead-lettered whole. */
  maxDeliveries: number;
  /** Undecodable entries and items acknowledged without a dead letter (counted in `skipped`). */
  skipUndecodable: boolean;
}

/** A read's entries, opened. */
export interface OpenBatch<T> {
  /** Entries to acknowledge at once: gone from the stream, set aside whole, or without a valid item. */
  acks: string[];
  /** Dead letters to write at once (with `acks`). */
  dead: DeadLetter[];
  /** The items for the handler, in stream order; an entry's items are adjacent. */
  work: Array<ConsumerEntry<T>>;
  /** Each entry's items not yet settled: the entry is acknowledged when its count reaches 0. */
  open: Map<string, number>;
  /** Items decoded, valid or not (the reader's per-entry estimate). */
  items: number;
  skipped: number;
}

/** Opens a read's entries; `deliveries` for re-read or claimed ones (new ones are at their first). */
export function openBatch<T>(
  entries: readonly RawEntry[],
  deliveries: ReadonlyMap<string, number> | undefined,
  rules: OpeningRules<T>,
): OpenBatch<T> {
  const batch: OpenBatch<T> = {
    acks: [],
    dead: [],
    work: [],
    open: new Map(),
    items: 0,
    skipped: 0,
  };
  for (const [entryId, fields] of entries) {
    const count = deliveries?.get(entryId) ?? 1;
    if (fields === null) {
      // Deleted from the stream while pending: nothing left to process.
      batch.acks.push(entryId);
      continue;
    }
    if (count > rules.maxDeliveries) {
      const reason = `delivered ${count} times (maxDeliveries ${rules.maxDeliveries})`;
      batch.dead.push({ entryId, fields, reason, deliveries: count });
      batch.acks.push(entryId);
      continue;
    }
    let decoded: ReadonlyArray<DecodedItem<T>>;
    try {
      decoded = rules.decodeItems(fields);
    } catch (error) {
      setAside(batch, rules, { entryId, fields, reason: (error as Error).message, deliveries: count });
      batch.acks.push(entryId);
      continue;
    }
    batch.items += decoded.length;
    let valid = 0;
    for (const item of decoded) {
      if ('error' in item) {
        setAside(batch, rules, { entryId, fields: item.fields, reason: item.error, deliveries: count });
        continue;
      }
      batch.work.push(new WorkEntry(entryId, item.value, count, item));
      valid += 1;
    }
    if (valid > 0) batch.open.set(entryId, valid);
    else batch.acks.push(entryId);
  }
  return batch;
}

/**
 * A work item: what the handler sees, and the decoded item it came from (whose fields a dead
 * letter takes). One per reading of every frame: a plain class, no map from item to item.
 */
class WorkEntry<T> implements ConsumerEntry<T> {
  constructor(
    readonly entryId: string,
    readonly value: T,
    readonly deliveries: number,
    readonly item: DecodedItem<T>,
  ) {}
}

/** An undecodable entry or item: a dead letter, or skipped. */
function setAside<T>(batch: OpenBatch<T>, rules: OpeningRules<T>, letter: DeadLetter) {
  if (rules.skipUndecodable) batch.skipped += 1;
  else batch.dead.push(letter);
}

/** What a handler call's outcomes settle: entries to acknowledge, dead letters, items to retry. */
export interface Settlement<T> {
  acks: string[];
  dead: DeadLetter[];
  again: Array<ConsumerEntry<T>>;
}

/**
 * Applies one handler call's outcomes (one per item, in order; none for "all done"; a missing one
 * retries) to `batch`'s open counts: an entry is acknowledged once its last item is done or dead.
 */
export function settleOutcomes<T>(
  batch: Pick<OpenBatch<T>, 'open'>,
  handled: ReadonlyArray<ConsumerEntry<T>>,
  outcomes: ReadonlyArray<EntryOutcome> | undefined | void,
): Settlement<T> {
  const settlement: Settlement<T> = { acks: [], dead: [], again: [] };
  handled.forEach((entry, index) => {
    const outcome = outcomes ? (outcomes[index] ?? 'retry') : 'done';
    if (outcome === 'retry') return void settlement.again.push(entry);
    if (outcome !== 'done')
      settlement.dead.push({
        entryId: entry.entryId,
        fields: entry instanceof WorkEntry ? entry.item.fields : null,
        reason: outcome.dead,
        deliveries: entry.deliveries,
      });
    const left = (batch.open.get(entry.entryId) ?? 1) - 1;
    if (left > 0) batch.open.set(entry.entryId, left);
    else {
      batch.open.delete(entry.entryId);
      settlement.acks.push(entry.entryId);
    }
  });
  return settlement;
}
