import type Redis from 'ioredis';
import { confirmWritesSince, connectionGeneration, onRenewed } from '../replica-wait.ts';
import type { RawEntry } from './types.ts';

/** The connection that reads was made again while a read was out: start over from the pending entries. */
export class ReconnectedError extends Error {
  override readonly name = 'ReconnectedError';
  constructor() {
    super('Redis connection renewed during a read (a restart or a failover): re-reading own pending entries first');
  }
}

export interface GroupReaderOptions {
  redis: Redis;
  /** Holds its connection while XREADGROUP waits. */
  blockingRedis: Redis;
  stream: string;
  group: string;
  consumer: string;
  /** Items per read (an entry may hold several: a frame). */
  batchSize: number;
  blockMs: number;
}

/**
 * Reads the group: new entries (`>`, waiting up to blockMs) or this consumer's own pending ones
 * after an id, about `batchSize` items' worth of entries at a time.
 *
 * Counts the blocking connection's reconnects (on a Redis Cluster, a change of masters too). After one — a Redis restarted, or a failover to a
 * replica, which holds a prefix of the old primary's writes (acks included) — the group may hold
 * again as pending entries this consumer already handled there: they must be handled again before
 * any new one (the alert rules depend on stream order), as at a fresh start. So a read that
 * answers across a reconnect throws ReconnectedError (what it delivered is pending) and the
 * runner starts over from its own pending entries.
 */
export function createGroupReader(options: GroupReaderOptions) {
  const { redis, blockingRedis, stream, group, consumer, batchSize, blockMs } = options;
  let connection = 0;
  const stopCounting = onRenewed(blockingRedis, () => {
    connection += 1;
  });
  // Items per entry lately (1 without frames).
  let itemsPerEntry = 1;
  // Rejects the reads under way, and every one after, once cut (handled here: no read may be
  // under way when it is).
  const cutting = Promise.withResolvers<never>();
  cutting.promise.catch(() => {});

  return {
    async read(id: string): Promise<RawEntry[]> {
      const count = Math.max(1, Math.round(batchSize / itemsPerEntry));
      const args: Array<string | number> = ['GROUP', group, consumer, 'COUNT', count];
      if (id === '>') args.push('BLOCK', blockMs);
      const before = connection;
      const generation = connectionGeneration(blockingRedis);
      const reply = (await Promise.race([
        blockingRedis.call('XREADGROUP', ...args, 'STREAMS', stream, id),
        cutting.promise,
      ])) as Array<[string, RawEntry[]]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      // With REDIS_MIN_REPLICAS, nothing is acted on that only the primary holds: an old primary
      // woken from a partition answers reads of entries the new one never had (WAIT finds no
      // replica there, and the read is dropped; the entries stay pending where they exist).
      if (entries.length > 0 && connection === before) await confirmWritesSince(blockingRedis, generation);
      if (connection !== before) throw new ReconnectedError();
      return entries;
    },

    /** Delivery counts of entries re-read or claimed (XREADGROUP and XAUTOCLAIM do not return them). */
    async deliveryCounts(entries: readonly RawEntry[]): Promise<Map<string, number>> {
      const first = entries[0]?.[0] as string;
      const last = entries.at(-1)?.[0] as string;
      const rows = (await redis.call('XPENDING', stream, group, first, last, entries.length, consumer)) as Array<
        [string, string, number, number]
      >;
      return new Map(rows.map(([id, , , count]) => [id, Number(count)]));
    },

    /** Tells how many items `entries` entries held, for the size of the next reads. */
    sized(entries: number, items: number) {
      if (entries > 0) itemsPerEntry = Math.max(1, (itemsPerEntry + items / entries) / 2);
    },

    /**
     * Ends the reads under way, at close: one may wait for a reconnect that cutting the
     * connection does not end (a Redis Cluster client between connections keeps it queued).
     * What they delivered stays pending.
     */
    cut() {
      cutting.reject(new Error('the read was cut: the consumer is closing'));
    },

    /** Stops counting reconnects: a consumer made anew on the same connection (the evaluator's, per lease) counts its own. */
    detach() {
      stopCounting();
    },
  };
}

export type GroupReader = ReturnType<typeof createGroupReader>;
