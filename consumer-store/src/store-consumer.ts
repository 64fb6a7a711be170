import {
  type ConsumerOptions,
  type Logger,
  type Reading,
  createRedis,
  createRedisPerPartition,
  decodeAlert,
  decodeReadingItems,
  recordConflicts,
  redisTargetOf,
  consumeEachPartition,
  readingStreamsOf,
  alertStreamsOf,
  storageFirstOver,
} from 'core';
import { createApiClient } from './api-client.ts';
import type { StoreConfig } from './config.ts';
import { createHistoryHandler } from './history-handler.ts';
import { createStoreHandler } from './store-handler.ts';

/**
 * The store group's consumer as the service and the rebuild both run it: readings from the stream,
 * in batches, to the API — a consumer per partition (STREAM_PARTITIONS), each on its own blocking
 * connection, sharing the handler. `overrides` changes what differs (the rebuild's own group and start).
 */
export function createStoreConsumer(
  config: StoreConfig,
  logger: Logger,
  connectionName: string,
  overrides: Partial<ConsumerOptions<Reading>> = {},
) {
  const redis = createRedis(redisTargetOf(config), { keyPrefix: config.keyPrefix, name: connectionName, logger });
  const client = createApiClient({
    apiUrls: config.apiUrls,
    token: config.apiToken,
    timeoutMs: config.requestTimeoutMs,
  });
  // Conflicts recorded beside the stream, for the alerts group, before their entries are acknowledged.
  const handler = createStoreHandler(client, logger, config.faultRate, (found) =>
    recordConflicts(redis, config.readingsStream, found),
  );
  const streams = readingStreamsOf(config).streams;
  const blockingRedis = createRedisPerPartition(
    redisTargetOf(config),
    { keyPrefix: config.keyPrefix, name: `${connectionName}:blocking`, logger },
    streams.length,
  );
  const consumer = consumeEachPartition(streams, blockingRedis, {
    redis,
    group: config.group,
    consumer: config.consumerName,
    decodeItems: decodeReadingItems,
    handle: (batch) => handler.handle(batch),
    logger,
    batchSize: config.batchSize,
    // CONCURRENCY is the instance's, shared by its partitions (one batch each at least): the
    // batches in flight stay bounded however many partitions there are.
    concurrency: Math.max(1, Math.ceil(config.concurrency / streams.length)),
    claimIdleMs: config.claimIdleMs,
    maxDeliveries: config.maxDeliveries,
    ...overrides,
  });
  return { redis, blockingRedis, handler, consumer, client, streams };
}

/**
 * The `history` group on the alerts stream: every transition into the API's alert history. A
 * consumer per partition of the alerts stream, each on its own blocking connection; alerts are few,
 * so small batches and one at a time.
 */
export function createHistoryConsumer(
  config: StoreConfig,
  logger: Logger,
  redis: ReturnType<typeof createRedis>,
  client: ReturnType<typeof createApiClient>,
  connectionName: string,
) {
  const streams = alertStreamsOf(config).streams;
  const blockingRedis = createRedisPerPartition(
    redisTargetOf(config),
    { keyPrefix: config.keyPrefix, name: `${connectionName}:history`, logger },
    streams.length,
  );
  const handler = createHistoryHandler({ client, redis, alertsStream: config.alertsStream, logger });
  // In an alert storm the readings are stored first; the history catches up behind them.
  const storage = storageFirstOver({ redis, streams: readingStreamsOf(config).streams, group: config.group });
  const consumer = consumeEachPartition(streams, blockingRedis, {
    redis,
    group: config.historyGroup,
    consumer: config.consumerName,
    decode: decodeAlert,
    handle: async (batch) => {
      await storage.wait();
      return handler.handle(batch);
    },
    logger,
    batchSize: 1_000,
    claimIdleMs: config.claimIdleMs,
    maxDeliveries: config.maxDeliveries,
  });
  return { blockingRedis, handler, consumer };
}
