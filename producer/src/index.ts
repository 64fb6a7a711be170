#!/usr/bin/env bun
import { configOrExit, createLogger, createRedis, prepareKeysOrExit, redisTargetOrExit, startHeartbeat } from 'core';
import { USAGE, loadProducerConfig } from './config.ts';
import { startProducer } from './run.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}

const config = await configOrExit('producer', () => loadProducerConfig(process.argv.slice(2), process.env));

const logger = createLogger({ service: 'producer', level: config.logLevel });
// REDIS_URL, or the primary through REDIS_SENTINELS (checked now: a bad list stops the start).
const redisTarget = await redisTargetOrExit('producer', config);
const redis = createRedis(redisTarget, { keyPrefix: config.keyPrefix, name: 'producer', logger, failFast: true });
// Publishing starts at once (readings wait in the buffer while Redis is away); a partition count
// that differs from the pipeline's stops the producer as soon as Redis answers.
void prepareKeysOrExit(redis, config, logger);
const run = startProducer({ config, redis, logger });
const heartbeat = startHeartbeat({
  redis,
  intervalMs: config.heartbeatIntervalMs,
  file: config.heartbeatFile,
  service: 'producer',
  counters: () => {
    const { buffered: _, ...counts } = run.stats();
    return counts;
  },
  gauges: () => ({ buffered: run.stats().buffered }),
  logger,
});

let signalled = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (signalled) return;
    signalled = true;
    logger.info('shutting_down', { signal });
    void run.stop();
  });
}

const summary = await run.done.catch(() => undefined);
await heartbeat.stop();
redis.disconnect();
// A signal asks for a clean stop: exit 0 even if Redis never came back (the unsent count was logged).
process.exit(signalled || (summary && summary.unsent === 0) ? 0 : 1);
