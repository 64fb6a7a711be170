import { InvalidEventError, MAX_JSON_DEPTH, type Reading, eventIdFor, jsonDepthExceeds, readingFromInput } from 'core';

export interface Refusal {
  /** Position in the payload's array (0 for a single reading; -1 for the whole payload). */
  index: number;
  reason: string;
}

/** Readings per message at most (as HTTP ingest). */
export const MAX_READINGS_PER_MESSAGE = 5_000;

/**
 * A message's readings: the payload is one reading or an array of them (JSON); the device id is
 * the topic's last level. A reading without an id gets one made from the topic, the payload and
 * its position, so the broker's redelivery of the same message yields the same ids (stored once).
 * Each bad reading is refused alone with the contract's words; the others go on. A reading
 * without `ts` (a device without a clock) is dated `receivedAtMs`, when the message was first
 * received (ingest.ts asks Redis, so a redelivery is dated the same); without it such a reading is
 * refused, and `undated` says the message holds one.
 */
export function readingsOf(
  topic: string,
  payload: Uint8Array,
  nowMs = Date.now(),
  receivedAtMs?: number,
): { readings: Reading[]; refused: Refusal[]; undated?: boolean } {
  const deviceId = topic.slice(topic.lastIndexOf('/') + 1);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return { readings: [], refused: [{ index: -1, reason: 'payload is not UTF-8' }] };
  }
  // As the API's bodies: `[` × 50,000 is refused before it is parsed (or, later, re-serialized).
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH))
    return {
      readings: [],
      refused: [{ index: -1, reason: `payload nests JSON deeper than ${MAX_JSON_DEPTH} levels` }],
    };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { readings: [], refused: [{ index: -1, reason: 'payload is not JSON' }] };
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length === 0) return { readings: [], refused: [{ index: -1, reason: 'payload is an empty array' }] };
  if (items.length > MAX_READINGS_PER_MESSAGE)
    return {
      readings: [],
      refused: [{ index: -1, reason: `payload holds ${items.length} readings; at most ${MAX_READINGS_PER_MESSAGE}` }],
    };
  // Hashed only if some reading comes without an id.
  let digest: string | undefined;
  const mintId = (index: number) => (tsMs: number) =>
    eventIdFor(
      tsMs,
      `${(digest ??= new Bun.CryptoHasher('sha256').update(topic).update(payload).digest('hex'))}:${index}`,
    );
  const readings: Reading[] = [];
  const refused: Refusal[] = [];
  const undated = items.some(
    (item) => typeof item === 'object' && item !== null && (item as { ts?: unknown }).ts === undefined,
  );
  items.forEach((item, index) => {
    try {
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        throw new InvalidEventError('reading', 'must be a JSON object');
      const given = (item as Record<string, unknown>).deviceId;
      if (given !== undefined && given !== deviceId)
        throw new InvalidEventError(
          'deviceId',
          `is ${JSON.stringify(String(given).slice(0, 64))} but the topic names ${JSON.stringify(deviceId)}`,
        );
      readings.push(
        readingFromInput({ ...(item as Record<string, unknown>), deviceId }, nowMs, mintId(index), receivedAtMs),
      );
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      refused.push({ index, reason: `${error.field} ${error.reason}` });
    }
  });
  return { readings, refused, ...(undated ? { undated } : {}) };
}
