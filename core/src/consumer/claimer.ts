import type Redis from 'ioredis';
import type { Logger } from '../logger.ts';
import { readConsumers } from './groups.ts';
import type { ConsumerStats, RawEntry } from './types.ts';

export interface ClaimerOptions {
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  /** Entries idle this long on another consumer are taken over. */
  claimIdleMs: number;
  batchSize: number;
  /** Consumers idle this long with nothing pending are removed from the group. */
  forgetConsumersAfterMs: number;
  stats: ConsumerStats;
  log: Logger;
  closing: () => boolean;
}

/**
 * Takes over what dead consumers left (XAUTOCLAIM, a batch at a time, each processed before the
 * next is claimed), then forgets consumers long idle with nothing pending.
 */
export function createClaimer(options: ClaimerOptions) {
  const { redis, stream, group, consumer, claimIdleMs, batchSize, stats, log } = options;

  const forgetIdleConsumers = async () => {
    for (const other of await readConsumers(redis, stream, group)) {
      if (other.name !== consumer && other.pending === 0 && other.idle > options.forgetConsumersAfterMs) {
        await redis.call('XGROUP', 'DELCONSUMER', stream, group, other.name);
        log.info('consumer_forgotten', { forgotten: other.name, idleMs: other.idle });
      }
    }
  };

  return async function claimIdle(process: (entries: RawEntry[]) => Promise<void>): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await redis.call(
        'XAUTOCLAIM',
        stream,
        group,
        consumer,
        claimIdleMs,
        cursor,
        'COUNT',
        batchSize,
      )) as [string, RawEntry[]];
      if (entries.length > 0) {
        stats.claimed += entries.length;
        log.info('claimed', { entries: entries.length });
        await process(entries);
      }
      cursor = next;
    } while (cursor !== '0-0' && !options.closing());
    await forgetIdleConsumers();
  };
}
export type Claimer = ReturnType<typeof createClaimer>;
