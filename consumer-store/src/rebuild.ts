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
  Posts every reading the stream still holds to the API (REDIS_URL, READINGS_STREAM, API_URL,
  API_TOKEN, as consumer-store reads them); rows already stored count as duplicates. Takes no
  flags: it starts at once.`,
  options: {},
});

const config = await configOrExit('rebuild', () => loadStoreConfig(process.env));

const logger = createLogger({ service: 'rebuild', level: config.logLevel });
// With REDIS_SENTINELS, one must answer and know the primary before anything starts.
await redisTargetOrExit('rebuild', config);
const group = `rebuild-${Date.now()}`;
const { redis, blockingRedis, handler, consumer } = createStoreConsumer(config, logger, 'rebuild', {
  group,
  consumer: 'rebuild',
  startId: '0',
  blockMs: 200,
});

logger.info('rebuilding', { stream: config.readingsStream, group, entries: await redis.xlen(config.readingsStream) });
const running = consumer.run();
const outcome = await Promise.race([
  running,
  (async () => {
    for (;;) {
      await Bun.sleep(500);
      if (await groupsCaughtUp(redis, config.readingsStream, [group])) return { reason: 'caught up' as const };
      const state = (await readGroups(redis, config.readingsStream)).find((g) => g.name === group);
      logger.info('progress', { ...handler.counters, pending: state?.pending, lag: state?.lag });
    }
  })(),
]);
await consumer.close();
await redis.xgroup('DESTROY', config.readingsStream, group);
logger.info('rebuilt', { ...handler.counters, ...consumer.stats(), outcome: outcome.reason });
redis.disconnect();
blockingRedis.disconnect();
process.exit(outcome.reason === 'caught up' ? 0 : 1);
