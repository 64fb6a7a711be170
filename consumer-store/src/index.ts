import {
  configOrExit,
  createLogger,
  onShutdown,
  redisTargetOrExit,
  startHeartbeat,
  prepareKeysOrExit,
  startTrimmer,
} from 'core';
import { loadStoreConfig } from './config.ts';
import { createHistoryConsumer, createStoreConsumer } from './store-consumer.ts';

const config = await configOrExit('consumer-store', () => loadStoreConfig(process.env));

const logger = createLogger({ service: 'consumer-store', level: config.logLevel });
// With REDIS_SENTINELS, one must answer and know the primary before anything starts.
await redisTargetOrExit('consumer-store', config);
if (!config.apiToken)
  logger.warn('api_token_missing', { hint: 'the API refuses writes without API_TOKEN; set the same value for both' });

const { redis, blockingRedis, handler, consumer, client, streams } = createStoreConsumer(
  config,
  logger,
  'consumer-store',
);
// Keys written by an earlier version renamed before any is read (key-layout.ts).
await prepareKeysOrExit(redis, config, logger);
const history = createHistoryConsumer(config, logger, redis, client, 'consumer-store');
/** Set when the consumer stopped for good (a wrong token): the heartbeat carries it to /health. */
let problem: string | undefined;
// Each partition trimmed as a stream of its own: RETAIN_ENTRIES is per partition.
const trimmers = streams.map((stream) =>
  startTrimmer({ redis, stream, retainEntries: config.retainEntries, intervalMs: config.trimIntervalMs, logger }),
);

const heartbeat = startHeartbeat({
  redis,
  intervalMs: config.heartbeatIntervalMs,
  file: config.heartbeatFile,
  service: 'consumer-store',
  instance: consumer.name,
  counters: () => {
    const { handlerMsMax: _, ...counts } = consumer.stats();
    return {
      ...handler.counters,
      ...counts,
      ...history.handler.counters,
      alerts_acked: history.consumer.stats().acked,
      alerts_dead_lettered: history.consumer.stats().deadLettered,
    };
  },
  gauges: () => ({ handlerMsMax: consumer.stats().handlerMsMax }),
  latencies: () => ({ lead_time: handler.leadTime, batch_time: handler.batchTime }),
  problem: () => problem,
  logger,
});

const status = setInterval(() => {
  logger.info('status', {
    ...handler.counters,
    ...consumer.stats(),
    leadTime: handler.leadTime.summary(),
    batchTime: handler.batchTime.summary(),
  });
}, config.statusIntervalMs);

onShutdown(
  logger,
  async () => {
    await Promise.all([consumer.close(), history.consumer.close()]);
    await heartbeat.stop();
    // Do not wait on a trim stuck behind a Redis outage: trimming is optional, the acks were not.
    await Promise.race([Promise.all(trimmers.map((trimmer) => trimmer.stop())), Bun.sleep(1_000)]);
    clearInterval(status);
    logger.info('stopped', { ...handler.counters, ...consumer.stats() });
    redis.disconnect();
    for (const connection of blockingRedis) connection.disconnect();
    for (const connection of history.blockingRedis) connection.disconnect();
  },
  config.shutdownTimeoutMs,
);

logger.info('consuming', {
  stream: config.readingsStream,
  partitions: config.streamPartitions,
  group: config.group,
  consumer: consumer.name,
  apiUrls: config.apiUrls.join(', '),
});
/** Retrying cannot fix a bad token; the entries stay pending for a fixed deployment. */
const stoppedFor = (stream: string, outcome: { reason: string; message?: string }) => {
  if (outcome.reason !== 'stopped' || problem) return;
  // Staying up (idle) keeps a supervisor from crash-looping; the error repeats so nobody misses it.
  logger.error('not_consuming', {
    stream,
    reason: outcome.message,
    hint: 'fix API_TOKEN and restart; nothing was lost',
  });
  problem = 'not consuming: the API refuses its API_TOKEN (fix it and restart; nothing is lost)';
  setInterval(() => logger.error('not_consuming', { stream, reason: outcome.message }), 60_000);
};
void history.consumer.run().then((outcome) => stoppedFor(config.alertsStream, outcome));
stoppedFor(config.readingsStream, await consumer.run());
