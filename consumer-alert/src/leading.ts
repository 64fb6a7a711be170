import { type Consumer, type ConsumerStats, type Logger, createSleeper, emptyConsumerStats } from 'core';
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
 * Each lead reads on a blocking connection of its own (`connectBlocking`), closed with it: a
 * consumer closed while Redis is away cuts its connection for good to end the read it waits on,
 * and a shared one would leave the next lead reading on a dead socket (seen after the failover of
 * a cluster master: the instance led again and evaluated nothing).
 */
export function evaluateWhileLeading(options: {
  lease: EvaluatorLease;
  redis: Redis;
  stream: string;
  group: string;
  consumerName: string;
  connectBlocking: () => Redis;
  makeConsumer: (blockingRedis: Redis) => Consumer;
  logger: Logger;
  renewEveryMs: number;
}) {
  const { lease, redis, stream, group, consumerName, connectBlocking, makeConsumer, logger, renewEveryMs } = options;
  const totals = emptyConsumerStats();
  const sleeper = createSleeper();
  let current: Consumer | undefined;
  let stopping = false;

  const takeOverPending = async () => {
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
    if (taken > 0) logger.info('evaluator_took_over', { entries: taken });
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
      const blocking = connectBlocking();
      const consumer = makeConsumer(blocking);
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
      blocking.disconnect();
      const stats = consumer.stats();
      for (const name of Object.keys(totals) as Array<keyof ConsumerStats>)
        totals[name] = name === 'handlerMsMax' ? Math.max(totals[name], stats[name]) : totals[name] + stats[name];
      current = undefined;
      if (outcome.reason === 'stopped') return outcome;
    }
    return { reason: 'closed' };
  };

  return {
    run,
    leading: () => current !== undefined,
    stats(): ConsumerStats {
      const now = current?.stats();
      if (!now) return { ...totals };
      return Object.fromEntries(
        Object.entries(totals).map(([name, value]) => [
          name,
          name === 'handlerMsMax'
            ? Math.max(value, now[name as keyof ConsumerStats])
            : value + now[name as keyof ConsumerStats],
        ]),
      ) as unknown as ConsumerStats;
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
