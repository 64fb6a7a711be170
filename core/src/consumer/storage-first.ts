import type Redis from 'ioredis';
import { entryTimeMs } from '../stream-ids.ts';
import { readGroups } from './groups.ts';

/**
 * The store group this far behind the stream's newest entry, in stream time, and draining: alert
 * work waits. Time, not entries: an entry may hold one reading or a frame of 500, and a group made
 * on a stream that had entries has no lag Redis can tell. Live, the store group trails the newest
 * entry by a batch's few milliseconds.
 */
export const STORAGE_FIRST_BEHIND_MS = 250;
/**
 * Or this many entries read and not yet stored, or not yet read: a backlog written faster than
 * that (an import, a pre-filled stream) spans little stream time. Live, a batch or two.
 */
export const STORAGE_FIRST_BEHIND_ENTRIES = 50;
/** A handler call waits at most this long per batch: alert work slows, never stops. */
const MAX_WAIT_MS = 1_000;
const LOOK_EVERY_MS = 100;

/**
 * Storage first, in an alert storm: while the store group drains a backlog — behind by more than
 * STORAGE_FIRST_BEHIND_MS of stream time or STORAGE_FIRST_BEHIND_ENTRIES entries, *and* moving —
 * the alert work of the same machine (evaluating readings in a storm, recording alerts in the
 * history) waits before each batch, up to a second, so that it takes the cores after storage
 * instead of from it, and catches up behind it. A store group that
 * does not move (the API down, storage stuck) holds nothing back: alerting then goes on at full
 * speed, as it must when storage is away. Looks at the group with XINFO GROUPS, at most every
 * 100 ms whatever the number of callers.
 */
export function storageFirst(options: { redis: Redis; stream: string; group: string }) {
  const { redis, stream, group } = options;
  let looked = 0;
  let last: { at: string } | undefined;
  let draining = false;
  let looking: Promise<void> | undefined;

  const look = async () => {
    const [groups, newest, pending] = await Promise.all([
      readGroups(redis, stream).catch(() => []),
      redis.xrevrange(stream, '+', '-', 'COUNT', 1).catch(() => []),
      (redis.xpending(stream, group) as Promise<[number, string | null, string | null, unknown]>).catch(
        () => undefined,
      ),
    ]);
    const state = groups.find((found) => found.name === group);
    const newestId = newest[0]?.[0];
    // Where storage is: its oldest entry read and not yet stored, else the last it read (a
    // consumer reads a whole backlog's entries at once and stores them batch by batch).
    const at = pending?.[1] ?? state?.lastDeliveredId;
    const waiting = Number(pending?.[0] ?? 0) + (state?.lag ?? 0);
    const behind =
      at !== undefined &&
      newestId !== undefined &&
      (entryTimeMs(newestId) - entryTimeMs(at) > STORAGE_FIRST_BEHIND_MS || waiting > STORAGE_FIRST_BEHIND_ENTRIES);
    // Moving: where it is changed since the last look.
    draining = Boolean(behind && last && last.at !== at);
    last = at === undefined ? undefined : { at };
    looked = Date.now();
  };

  return {
    /** Looks now: is the store group draining a backlog (behind, and moving since the last look)? */
    async draining(): Promise<boolean> {
      await look();
      return draining;
    },
    /** Resolves when alert work may go on (at once, unless storage drains a backlog). */
    async wait(): Promise<void> {
      const until = Date.now() + MAX_WAIT_MS;
      for (;;) {
        if (Date.now() - looked >= LOOK_EVERY_MS) {
          looking ??= look().finally(() => {
            looking = undefined;
          });
          await looking;
        }
        if (!draining || Date.now() >= until) return;
        await Bun.sleep(LOOK_EVERY_MS);
      }
    },
  };
}

/**
 * storageFirst over every partition of the readings stream: alert work that is not tied to one
 * partition (the alert history) waits while storage drains a backlog in any of them.
 */
export function storageFirstOver(options: { redis: Redis; streams: readonly string[]; group: string }) {
  const each = options.streams.map((stream) => storageFirst({ redis: options.redis, stream, group: options.group }));
  return {
    async wait(): Promise<void> {
      await Promise.all(each.map((partition) => partition.wait()));
    },
  };
}
