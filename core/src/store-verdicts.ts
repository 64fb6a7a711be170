import type Redis from 'ioredis';
import { streamKeys } from './keys.ts';
import { compareEntryIds, entryTimeMs } from './stream-ids.ts';

/**
 * What the store group found about readings that storage did not take as new: the ones in
 * conflict (same id, other content — the stored version stays). The alerts group reads it so that
 * a conflicting copy is never evaluated as if it were a new reading: it fired on a value storage
 * never kept. A sorted set of `<entryId>/<readingId>` by when it was found; kept a day.
 */

const KEPT_MS = 24 * 60 * 60 * 1_000;

export interface EntryReading {
  entryId: string;
  readingId: string;
}

/** How a reading of an entry is named in the set (and in conflictsAmong's answer). */
export const entryReadingKey = ({ entryId, readingId }: EntryReading) => `${entryId}/${readingId}`;

/** Records conflicts the store group found; called before it acknowledges their entries. */
export async function recordConflicts(
  redis: Redis,
  stream: string,
  found: readonly EntryReading[],
  nowMs = Date.now(),
): Promise<void> {
  if (found.length === 0) return;
  const key = streamKeys(redis, stream).conflicts;
  await redis
    .multi()
    .zadd(key, ...found.flatMap((pair) => [nowMs, entryReadingKey(pair)]))
    .zremrangebyscore(key, '-inf', nowMs - KEPT_MS)
    .exec();
}

/** Which of these readings the store group found in conflict (one EXISTS when it found none, as usual). */
export async function conflictsAmong(
  redis: Redis,
  stream: string,
  readings: readonly EntryReading[],
): Promise<Set<string>> {
  const key = streamKeys(redis, stream).conflicts;
  if (readings.length === 0 || (await redis.exists(key)) === 0) return new Set();
  const members = readings.map(entryReadingKey);
  const scores = (await redis.call('ZMSCORE', key, ...members)) as Array<string | null>;
  return new Set(members.filter((_, index) => scores[index] !== null));
}

/**
 * True once `group` has acknowledged every entry up to `entryId`: delivered (the group's last
 * delivered id is at or past it) and none of them still pending.
 */
export async function groupSettled(redis: Redis, stream: string, group: string, entryId: string): Promise<boolean> {
  // One round trip: the group's last delivered id, and its oldest pending entry (summary form).
  const [[, groups], [, summary]] = ((await redis
    .pipeline()
    .call('XINFO', 'GROUPS', stream)
    .call('XPENDING', stream, group)
    .exec()) ?? []) as [
    [Error | null, Array<Array<string | number>>],
    [Error | null, [number, string | null] | undefined],
  ];
  const info = (groups ?? [])
    .map((flat) =>
      Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]])),
    )
    .find((g) => g.name === group);
  if (!info) return true;
  if (compareEntryIds(String(info['last-delivered-id']), entryId) < 0) return false;
  const oldest = summary?.[1] ?? null;
  return oldest === null || compareEntryIds(oldest, entryId) > 0;
}

/**
 * Waits until the store group has its verdict on every entry up to `entryId` (see groupSettled),
 * at most until `waitMs` after that entry arrived: true if it has. An old entry (a backlog after
 * an outage) is not waited for, so that a storage outage delays alerts by `waitMs` at most.
 */
export async function waitForGroup(
  redis: Redis,
  stream: string,
  group: string,
  entryId: string,
  waitMs: number,
  pollMs = 5,
): Promise<boolean> {
  const deadline = entryTimeMs(entryId) + waitMs;
  for (;;) {
    if (await groupSettled(redis, stream, group, entryId)) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}
