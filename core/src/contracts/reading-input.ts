import { newEventId } from '../ids.ts';
import { InvalidEventError } from './errors.ts';
import { parseIsoTime } from './iso-time.ts';
import { type Reading, validateReading } from './reading.ts';

/**
 * A reading as devices and files write it — `ts` as epoch milliseconds or an ISO-8601 date-time,
 * `id` optional — in the contract's form: an id is kept (a resend is then stored once) or minted,
 * and the contract decides the rest, so HTTP ingest and the producer's replay refuse the same
 * things with the same words.
 * @throws InvalidEventError naming the field.
 */
export function readingFromInput(
  input: Record<string, unknown>,
  nowMs: number = Date.now(),
  mintId: (tsMs: number) => string = newEventId,
  /** A door's receipt of a reading sent without `ts` (a device without a clock): its time then. */
  receivedAtMs?: number,
): Reading {
  const { id, deviceId, metric, value, unit, ts } = input;
  const tsMs =
    ts === undefined && receivedAtMs !== undefined
      ? receivedAtMs
      : typeof ts === 'number'
        ? ts
        : typeof ts === 'string'
          ? parseIsoTime(ts)
          : Number.NaN;
  if (!Number.isFinite(tsMs))
    throw new InvalidEventError(
      'ts',
      'must be an ISO-8601 date-time that exists (with its zone) or epoch milliseconds',
    );
  return validateReading(
    { id: id === undefined || id === '' ? mintId(tsMs) : id, deviceId, metric, value, unit, ts: tsMs },
    nowMs,
  );
}
