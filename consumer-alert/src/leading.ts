import {
  type Consumer,
  type ConsumerStats,
  type Logger,
  consumeEach,
  createSleeper,
  emptyConsumerStats,
  sumStats,
} from 'core';
import type Redis from 'ioredis';
import type { EvaluatorLease } from './evaluator-lease.ts';

/**
 * Runs the evaluating consumer only while this instance holds the evaluator lease. On taking
 * the lease it first takes over every entry another instance had been handed and not
 * acknowledged (at once: that instance is fenced out by the lease), so its own-pending pass
 * evaluates them before anything newer — each device's readings stay in stream order across a
 * fail-over. Losing the lease (not renewed in time, or Redis away) closes the consumer; what it
 * held stays pending for the next holder.
 *
 * With the readings stream in partitions, the lead takes them all: a consumer per partition, each
 * in its partition's order (a device's readings are all in one).
 *
 * Each lead reads on blocking connections of its own (`connectBlocking`), closed with it: a
 * consumer closed while Redis is away cuts its connection for good to end the read it waits on,
 * and a shared one would leave the next lead reading on a dead socket (seen after the failover of
 * a cluster master: the instance led again and evaluated nothing).
 */
export function evaluateWhileLeading(options: {
  lease: EvaluatorLease;
  redis: Redis;
  /** The readings stream's partitions. */
  streams: readonly string[];
  group: string;
  consumerName: string;
  connectBlocking: () => Redis;
  makeConsumer: (blockingRedis: Redis, stream: string) => Consumer;
  logger: Logger;
  renewEveryMs: number;
}) {
  const { lease, redis, streams, group, consumerName, connectBlocking, makeConsumer, logger, renewEveryMs } = options;
  let totals = emptyConsumerStats();
  const sleeper = createSleeper();
  let current: Consumer | undefined;
  let stopping = false;

  const takeOverPending = async () => {
    let taken = 0;
    for (const stream of streams) taken += await takeOverPendingOf(stream);
    if (taken > 0) logger.info('evaluator_took_over', { entries: taken });
  };

  const takeOverPendingOf = async (stream: string): Promise<number> => {
    let cursor = '0-0';
    let taken = 0;
    do {
      const [next, ids] = (await redis.call(
        'XAUTOCLAIM',
        stream,
        group,
        consumerName,
        0,
        cursor,
        'COUNT',
        1_000,
        'JUSTID',
      )) as [string, string[]];
      taken += ids.length;
      cursor = next;
    } while (cursor !== '0-0');
    return taken;
  };

  const run = async (): Promise<{ reason: 'closed' | 'stopped'; message?: string }> => {
    while (!stopping) {
      const leading = await lease.acquire().catch(() => false);
      if (!leading) {
        await sleeper.sleep(renewEveryMs);
        continue;
      }
      try {
        await takeOverPending();
      } catch (error) {
        // No group yet (nothing to take over), or Redis away: the consumer's own start handles both.
        if (!String((error as Error).message).includes('NOGROUP'))
          logger.warn('evaluator_take_over_failed', { error: (error as Error).message });
      }
      logger.info('evaluator_leading', { lease: lease.key });
      const blocking = streams.map(() => connectBlocking());
      const consumer = consumeEach(streams.map((stream, index) => makeConsumer(blocking[index] as Redis, stream)));
      current = consumer;
      const renewal = setInterval(() => {
        lease.renew().then(
          (held) => {
            if (held) return;
            logger.warn('evaluator_lease_lost', { hint: 'another instance evaluates now' });
            void consumer.close();
          },
          () => void consumer.close(),
        );
      }, renewEveryMs);
      const outcome = await consumer.run();
      clearInterval(renewal);
      for (const connection of blocking) connection.disconnect();
      totals = sumStats([totals, consumer.stats()]);
      current = undefined;
      if (outcome.reason === 'stopped') return outcome;
    }
    return { reason: 'closed' };
  };

  return {
    run,
    leading: () => current !== undefined,
    stats(): ConsumerStats {
      return sumStats(current ? [totals, current.stats()] : [totals]);
    },
    /** Stops evaluating and hands the lease over at once (no wait for it to lapse). */
    async close(): Promise<void> {
      stopping = true;
      sleeper.wakeAll();
      await current?.close();
      await lease.release().catch(() => {});
    },
  };
}
