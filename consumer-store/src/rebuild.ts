/**
 * Rebuilds the API's table from what the stream still holds: a new consumer group reads the
 * stream from its first entry and posts everything to the API, whose storage is idempotent by
 * reading id (rows already there count as duplicates). The group is deleted at the end, so it
 * never holds back trimming. Usage: `bun run --cwd consumer-store rebuild` (same env as the service).
 */
import { configOrExit, createConsumer, createLogger, createRedis, decodeReading, readGroups } from 'core';
import { createApiClient } from './api-client.ts';
import { loadStoreConfig } from './config.ts';
import { createStoreHandler } from './store-handler.ts';

const config = await configOrExit('rebuild', () => loadStoreConfig(process.env));

const logger = createLogger({ service: 'rebuild', level: config.logLevel });
const redis = createRedis(config.redisUrl, { name: 'rebuild', logger });
const blockingRedis = createRedis(config.redisUrl, { name: 'rebuild:blocking', logger });
const group = `rebuild-${Date.now()}`;
const handler = createStoreHandler(createApiClient({ apiUrl: config.apiUrl, token: config.apiToken, timeoutMs: config.requestTimeoutMs }), logger, config.faultRate);
const consumer = createConsumer({
  redis,
  blockingRedis,
  stream: config.readingsStream,
  group,
  consumer: 'rebuild',
  startId: '0',
  decode: decodeReading,
  handle: (batch) => handler.handle(batch),
  logger,
  batchSize: config.batchSize,
  concurrency: config.concurrency,
  blockMs: 200,
});

logger.info('rebuilding', { stream: config.readingsStream, group, entries: await redis.xlen(config.readingsStream) });
const running = consumer.run();
const outcome = await Promise.race([
  running,
  (async () => {
    for (;;) {
      await Bun.sleep(500);
      const state = (await readGroups(redis, config.readingsStream)).find((g) => g.name === group);
      if (state && state.pending === 0 && state.lag === 0) return { reason: 'caught up' as const };
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
