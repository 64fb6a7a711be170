import { type ConsumerOptions, type Logger, type Reading, createConsumer, createRedis, decodeReading } from 'core';
import { createApiClient } from './api-client.ts';
import type { StoreConfig } from './config.ts';
import { createStoreHandler } from './store-handler.ts';

/**
 * The store group's consumer as the service and the rebuild both run it: readings from the stream,
 * in batches, to the API. `overrides` changes what differs (the rebuild's own group and start).
 */
export function createStoreConsumer(config: StoreConfig, logger: Logger, connectionName: string, overrides: Partial<ConsumerOptions<Reading>> = {}) {
  const redis = createRedis(config.redisUrl, { keyPrefix: config.keyPrefix, name: connectionName, logger });
  const blockingRedis = createRedis(config.redisUrl, { keyPrefix: config.keyPrefix, name: `${connectionName}:blocking`, logger });
  const handler = createStoreHandler(createApiClient({ apiUrls: config.apiUrls, token: config.apiToken, timeoutMs: config.requestTimeoutMs }), logger, config.faultRate);
  const consumer = createConsumer({
    redis,
    blockingRedis,
    stream: config.readingsStream,
    group: config.group,
    consumer: config.consumerName,
    decode: decodeReading,
    handle: (batch) => handler.handle(batch),
    logger,
    batchSize: config.batchSize,
    concurrency: config.concurrency,
    claimIdleMs: config.claimIdleMs,
    maxDeliveries: config.maxDeliveries,
    ...overrides,
  });
  return { redis, blockingRedis, handler, consumer };
}
