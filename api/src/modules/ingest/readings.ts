import { InvalidEventError, type Reading, newEventId, parseIsoTime, validateReading } from 'core';

/** Readings one request may carry: as many as a batch. */
export const MAX_INGEST_ITEMS = 5_000;

export interface Refused {
  index: number;
  path: string;
  message: string;
}

/**
 * One item of an ingest request as a reading of the stream's contract, or why not. `ts` may be
 * an ISO-8601 date-time or epoch milliseconds; an `id` is kept (a device resending is then stored
 * once), else one is minted. The contract (core's validateReading) decides the rest, so HTTP,
 * MQTT and the producer refuse the same things with the same words.
 */
export function toStreamReading(item: unknown, index: number, nowMs: number): Reading | Refused {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return { index, path: `${index}`, message: 'must be a reading object' };
  const { id, deviceId, metric, value, unit, ts } = item as Record<string, unknown>;
  const tsMs = typeof ts === 'number' ? ts : typeof ts === 'string' ? parseIsoTime(ts) : Number.NaN;
  if (!Number.isFinite(tsMs)) {
    return { index, path: `${index}.ts`, message: 'must be an ISO-8601 date-time that exists (with its zone) or epoch milliseconds' };
  }
  try {
    return validateReading({ id: id ?? newEventId(tsMs), deviceId, metric, value, unit, ts: tsMs }, nowMs);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return { index, path: `${index}.${error.field}`, message: error.reason };
  }
}
