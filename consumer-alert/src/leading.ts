import { type Consumer, type Logger, createSleeper, emptyConsumerStats, sumStats } from 'core';
import type Redis from 'ioredis';
import type { EvaluatorLease } from './evaluator-lease.ts';
import type { PartitionShare } from './partition-share.ts';

/** A partition of the readings stream and the lease of its evaluation. */
export interface LeasedPartition {
  stream: string;
  lease: EvaluatorLease;
}

type Outcome = { reason: 'closed' | 'stopped'; message?: string };

/**
 * Evaluates each partition of the readings stream only while this instance holds that partition's
 * lease, and no more partitions than its fair share (`share`: the instances share them; without
 * it, every partition). On taking a lease it first takes over every entry another instance had
 * been handed on that partition and not acknowledged (at once: that instance is fenced out by the
 * lease), so its own-pending pass evaluates them before anything newer — each device's readings
 * (all in one partition) stay in stream order across a fail-over. Losing a lease (not renewed in
 * time, or Redis away) closes that partition's consumer; what it held stays pending for the next
 * holder. Holding more than its share (an instance joined), it hands the highest partitions over:
 * their consumers close, finishing the batch in hand, and their leases are released.
 *
 * Each lead reads on a blocking connection of its own (`connectBlocking`), closed with it: a
 * consumer closed while Redis is away cuts its connection for good to end the read it waits on,
 * and a shared one would leave the next lead reading on a dead socket (seen after the failover of
 * a cluster master: the instance led again and evaluated nothing).
 */
export function evaluateWhileLeading(options: {
  partitions: readonly LeasedPartition[];
  share?: PartitionShare;
  redis: Redis;
  group: string;
  consumerName: string;
  connectBlocking: () => Redis;
  makeConsumer: (blockingRedis: Redis, stream: string) => Consumer;
  logger: Logger;
  renewEveryMs: number;
}) {
  const { partitions, share, redis, group, consumerName, connectBlocking, makeConsumer, logger, renewEveryMs } =
    options;
  let totals = emptyConsumerStats();
  const sleeper = createSleeper();
  /** Partitions held, or being taken (so that the share is never overshot). */
  const held = new Set<number>();
  const running = new Map<number, Consumer>();
  let stopping = false;
  const fair = () => share?.fair() ?? partitions.length;
  /** Partitions held past this instance's share, the highest first: to be handed over. */
  const surplus = () => [...held].sort((a, b) => b - a).slice(0, Math.max(0, held.size - fair()));

  const takeOverPending = async (stream: string) => {
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
    if (taken > 0) logger.info('evaluator_took_over', { stream, entries: taken });
  };

  /** One lead of partition `index`: its consumer runs until closed, the lease lost or handed over. */
  const evaluate = async (index: number): Promise<Outcome> => {
    const { stream, lease } = partitions[index] as LeasedPartition;
    try {
      await takeOverPending(stream);
    } catch (error) {
      // No group yet (nothing to take over), or Redis away: the consumer's own start handles both.
      if (!String((error as Error).message).includes('NOGROUP'))
        logger.warn('evaluator_take_over_failed', { stream, error: (error as Error).message });
    }
    logger.info('evaluator_leading', { lease: lease.key, partition: index });
    const blocking = connectBlocking();
    const consumer = makeConsumer(blocking, stream);
    running.set(index, consumer);
    let handingOver = false;
    const renewal = setInterval(() => {
      if (!handingOver && surplus().includes(index)) {
        handingOver = true;
        logger.info('evaluator_handing_over', { partition: index, share: fair() });
        void consumer.close();
      }
      // Renewed while handing over too: the batch in hand is finished under the lease.
      lease.renew().then(
        (still) => {
          if (still) return;
          logger.warn('evaluator_lease_lost', { partition: index, hint: 'another instance evaluates it now' });
          void consumer.close();
        },
        () => void consumer.close(),
      );
    }, renewEveryMs);
    const outcome = await consumer.run();
    clearInterval(renewal);
    blocking.disconnect();
    totals = sumStats([totals, consumer.stats()]);
    running.delete(index);
    if (handingOver) await lease.release().catch(() => {});
    return outcome;
  };

  /** Partition `index`, led whenever its lease is free and this instance is under its share. */
  const lead = async (index: number): Promise<Outcome> => {
    const { lease } = partitions[index] as LeasedPartition;
    while (!stopping) {
      if (held.size >= fair()) {
        await sleeper.sleep(renewEveryMs);
        continue;
      }
      held.add(index);
      const leading = await lease.acquire().catch(() => false);
      // Closed while the lease was being taken: handed straight back.
      if (leading && stopping) await lease.release().catch(() => {});
      const outcome = leading && !stopping ? await evaluate(index) : undefined;
      held.delete(index);
      if (outcome?.reason === 'stopped') return outcome;
      if (!stopping) await sleeper.sleep(renewEveryMs);
    }
    return { reason: 'closed' };
  };

  /** Counts the live instances, for the share, as often as leases are renewed. */
  const beat = async () => {
    while (!stopping) {
      await share?.beat().catch(() => {});
      await sleeper.sleep(renewEveryMs);
    }
  };

  const close = async (): Promise<void> => {
    stopping = true;
    sleeper.wakeAll();
    await Promise.all([...running.values()].map((consumer) => consumer.close()));
    await Promise.all(partitions.map(({ lease }) => lease.release().catch(() => {})));
    await share?.leave().catch(() => {});
  };

  return {
    async run(): Promise<Outcome> {
      await share?.beat().catch(() => {});
      const beating = beat();
      const outcomes = await Promise.all(
        partitions.map(async (_, index) => {
          const outcome = await lead(index);
          if (outcome.reason === 'stopped') await close();
          return outcome;
        }),
      );
      await beating;
      return outcomes.find((outcome) => outcome.reason === 'stopped') ?? { reason: 'closed' };
    },
    /** Whether this instance evaluates partition 0. */
    leading: () => running.has(0),
    /** The partitions this instance evaluates now. */
    partitionsLed: () => [...running.keys()].sort((a, b) => a - b),
    stats: () => sumStats([totals, ...[...running.values()].map((consumer) => consumer.stats())]),
    /** Stops evaluating and hands every lease over at once (no wait for them to lapse). */
    close,
  };
}
