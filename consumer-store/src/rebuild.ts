/**
 * Rebuilds the API's table from what the stream still holds: a new consumer group reads the
 * stream from its first entry and posts everything to the API, whose storage is idempotent by
 * reading id (rows already there count as duplicates). The group is deleted at the end, so it
 * never holds back trimming. Usage: `bun run --cwd consumer-store rebuild` (same env as the service).
 */
import { configOrExit, createLogger, redisTargetOrExit, groupsCaughtUp, parseCli, readGroups } from 'core';
import { loadStoreConfig } from './config.ts';
import { createStoreConsumer } from './store-consumer.ts';

parseCli({
  name: 'rebuild',
  usage: `Usage: bun run --cwd consumer-store rebuild
  Posts every reading the stream (each of its partitions) still holds to the API (REDIS_URL, READINGS_STREAM, API_URL,
  API_TOKEN, as consumer-store reads them); rows already stored count as duplicates. Takes no
  flags: it starts at once.`,
  options: {},
});

const config = await configOrExit('rebuild', () => loadStoreConfig(process.env));

const logger = createLogger({ service: 'rebuild', level: config.logLevel });
// With REDIS_SENTINELS, one must answer and know the primary before anything starts.
await redisTargetOrExit('rebuild', config);
const group = `rebuild-${Date.now()}`;
const { redis, blockingRedis, handler, consumer, streams } = createStoreConsumer(config, logger, 'rebuild', {
  group,
  consumer: 'rebuild',
  startId: '0',
  blockMs: 200,
});

const entries = (await Promise.all(streams.map((stream) => redis.xlen(stream)))).reduce((sum, n) => sum + n, 0);
logger.info('rebuilding', { stream: config.readingsStream, partitions: streams.length, group, entries });
const running = consumer.run();
const outcome = await Promise.race([
  running,
  (async () => {
    for (;;) {
      await Bun.sleep(500);
      const caughtUp = await Promise.all(streams.map((stream) => groupsCaughtUp(redis, stream, [group])));
      if (caughtUp.every(Boolean)) return { reason: 'caught up' as const };
      const states = await Promise.all(
        streams.map(async (stream) => (await readGroups(redis, stream)).find((g) => g.name === group)),
      );
      const pending = states.reduce((sum, state) => sum + (state?.pending ?? 0), 0);
      const lag = states.reduce((sum, state) => sum + (state?.lag ?? 0), 0);
      logger.info('progress', { ...handler.counters, pending, lag });
    }
  })(),
]);
await consumer.close();
for (const stream of streams) await redis.xgroup('DESTROY', stream, group);
logger.info('rebuilt', { ...handler.counters, ...consumer.stats(), outcome: outcome.reason });
redis.disconnect();
for (const connection of blockingRedis) connection.disconnect();
process.exit(outcome.reason === 'caught up' ? 0 : 1);
