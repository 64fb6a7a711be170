import { InvalidEventError, type Reading, eventIdFor, readingFromInput } from 'core';

/** Readings one request may carry: as many as a batch. */
export const MAX_INGEST_ITEMS = 5_000;

export interface Refused {
  index: number;
  path: string;
  message: string;
}

/**
 * One item of an ingest request as a reading of the stream's contract (core's readingFromInput),
 * or why not, named by the item's index. An item without an id gets one made from its content
 * and position: a client that sends the same request again — after a 503 because the replicas
 * were behind, or an answer lost — gets the same ids, and storage keeps one copy. An item without
 * `ts` is dated `receivedAtMs`: when the door first received the request (core's firstReceipt),
 * so a retry dates it, and makes its id, the same.
 */
export function toStreamReading(item: unknown, index: number, nowMs: number, receivedAtMs?: number): Reading | Refused {
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    return { index, path: `${index}`, message: 'must be a reading object' };
  try {
    const mintId = (tsMs: number) =>
      eventIdFor(tsMs, `ingest:${index}:${new Bun.CryptoHasher('sha256').update(JSON.stringify(item)).digest('hex')}`);
    return readingFromInput(item as Record<string, unknown>, nowMs, mintId, receivedAtMs);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return { index, path: `${index}.${error.field}`, message: error.reason };
  }
}
