import type Redis from 'ioredis';
import type { ConsumerOptions } from './consumer-options.ts';
import { createConsumer } from './consumer.ts';
import { type Consumer, type ConsumerStats, emptyConsumerStats } from './types.ts';

/**
 * A consumer of each of `streams` (a stream's partitions), `streams[i]` read on `blockingRedis[i]`,
 * all with the same options, run and closed as one (consumeEach).
 */
export function consumeEachPartition<T>(
  streams: readonly string[],
  blockingRedis: readonly Redis[],
  options: Omit<ConsumerOptions<T>, 'stream' | 'blockingRedis'>,
): Consumer {
  return consumeEach(
    streams.map((stream, index) =>
      createConsumer({ ...options, stream, blockingRedis: blockingRedis[index] as Redis }),
    ),
  );
}

/**
 * One consumer per partition of a stream (partitions.ts), run and closed as one: each reads its
 * partition on its own blocking connection, in that partition's order (a device's readings are
 * all in one), while the others go on. One that stops for good (StopConsumingError) stops them
 * all, and the run answers with its reason.
 */
export function consumeEach(consumers: readonly Consumer[]): Consumer {
  const first = consumers[0];
  if (!first) throw new RangeError('consumeEach needs a consumer');
  if (consumers.length === 1) return first;
  let running: ReturnType<Consumer['run']> | undefined;
  const close = async () => {
    await Promise.all(consumers.map((consumer) => consumer.close()));
  };
  return {
    name: first.name,
    run() {
      running ??= Promise.all(
        consumers.map(async (consumer) => {
          const outcome = await consumer.run();
          if (outcome.reason === 'stopped') await close();
          return outcome;
        }),
      ).then((outcomes) => outcomes.find((outcome) => outcome.reason === 'stopped') ?? { reason: 'closed' as const });
      return running;
    },
    close,
    stats: () => sumStats(consumers.map((consumer) => consumer.stats())),
  };
}

/** Counters added up; the longest handler call the longest of all. */
export function sumStats(all: ReadonlyArray<Readonly<ConsumerStats>>): ConsumerStats {
  const total = emptyConsumerStats();
  for (const stats of all)
    for (const name of Object.keys(total) as Array<keyof ConsumerStats>)
      total[name] = name === 'handlerMsMax' ? Math.max(total[name], stats[name]) : total[name] + stats[name];
  return total;
}
