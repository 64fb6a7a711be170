import {
  configOrExit,
  createLogger,
  createRedis,
  createRedisPerPartition,
  createTokenVerifier,
  onShutdown,
  prepareKeysOrExit,
  readingStreamsOf,
  alertStreamsOf,
  redisTargetOrExit,
} from 'core';
import { createApp } from './app.ts';
import { loadApiConfig, rawRetentionDays } from './config.ts';
import { activeRules, startWorkerJanitor } from './modules/system/pipeline.ts';
import { defaultThresholds } from './modules/stats/index.ts';
import { startEpochWatch } from './modules/system/redis-epoch.ts';
import { startReplicationWatch } from './modules/system/replication.ts';
import { watchStorageIdentity } from './modules/system/storage-identity.ts';
import { openStore } from './storage/open.ts';
import { startAlertRetention } from './modules/alerts/retention.ts';
import { startReadingCompression } from './modules/system/reading-compression.ts';
import { startReadingRetention } from './modules/system/reading-retention.ts';
import { startRollupCompaction } from './modules/system/rollup-compaction.ts';
import { importJobs } from './modules/imports/jobs.ts';
import { startImportWorker } from './modules/imports/worker.ts';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

const { config, tokens } = await configOrExit('api', async () => {
  const loaded = loadApiConfig(process.env);
  return {
    config: loaded,
    tokens: await createTokenVerifier({ secret: loaded.tokenSecret, publicKey: loaded.tokenPublicKey }).ready(),
  };
});

const logger = createLogger({ service: 'api', level: config.logLevel });
// REDIS_URL, or the primary through REDIS_SENTINELS (checked now: a bad list stops the start).
const redisTarget = await redisTargetOrExit('api', config);
let store: Awaited<ReturnType<typeof openStore>>;
try {
  store = await openStore(
    config.databaseUrl,
    {
      poolSize: config.databasePoolSize,
      readers: config.databaseReaders,
      readerNice: config.databaseReaderNice,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
    },
    logger,
  );
} catch (error) {
  // A bad DATABASE_URL or an unreachable database: one line naming it, no stack trace.
  logger.error('storage_unavailable', { error: (error as Error).message });
  process.exit(2);
}
// Fail fast with a short timeout: /health must answer "down" at once when Redis is away, not hang.
const redis = createRedis(redisTarget, {
  keyPrefix: config.keyPrefix,
  name: 'api',
  logger,
  failFast: true,
  commandTimeoutMs: 1_000,
});
// Keys written by an earlier version renamed (key-layout.ts); in the background: /health answers meanwhile.
void prepareKeysOrExit(redis, config, logger);
// Notices a Redis that comes back without its data, on its own schedule (see /health).
const epoch = startEpochWatch({ redis });
// A database lost or replaced since the last start is named by /health until acknowledged.
const storageIdentity = watchStorageIdentity({ redis, store, logger });
// The primary's replicas and failovers, for /health and /metrics, on their own schedule.
const replication = startReplicationWatch({ redis, target: redisTarget });
// The readings stream's partitions (STREAM_PARTITIONS): where the doors publish, what /health watches.
const readingPartitions = readingStreamsOf(config);
// The alerts stream's, split alike: what /health watches, what the alerts feed reads.
const alertStreams = alertStreamsOf(config).streams;
const pipeline = {
  epoch,
  replication,
  redis,
  streams: [...readingPartitions.streams, ...alertStreams],
  partitions: [
    { stream: config.readingsStream, streams: readingPartitions.streams },
    { stream: config.alertsStream, streams: alertStreams },
  ],
  expectedWorkers: config.expectedWorkers
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean),
  lagDegraded: config.lagDegraded,
  stallDegradedMs: config.stallDegradedMs,
};
// A connection per partition: the alerts feed blocks on XREAD while dashboards listen.
const alertsFeed = createRedisPerPartition(
  redisTarget,
  { keyPrefix: config.keyPrefix, name: 'api:alerts-feed', logger },
  alertStreams.length,
).map((blockingRedis, index) => ({ blockingRedis, stream: alertStreams[index] as string }));
// Imports: jobs in Redis (seen by every instance), files here (imported by this instance only).
const importOwner = `${hostname()}:${config.port}`;
// The API's fail-fast connection: with Redis away, an import request is a 503 at once, not a wait.
const importJobStore = importJobs(redis);
const importWorker = startImportWorker({
  redis: createRedis(redisTarget, {
    keyPrefix: config.keyPrefix,
    name: 'api:import-worker',
    logger,
    failFast: true,
    commandTimeoutMs: 10_000,
  }),
  jobs: importJobStore,
  stream: config.readingsStream,
  streams: readingPartitions,
  owner: importOwner,
  maxBacklog: config.importMaxBacklog,
  logger,
  frameReadings: config.frameReadings,
  uploadsDir: resolve(config.importDir),
});
const imports = {
  jobs: importJobStore,
  worker: importWorker,
  dir: resolve(config.importDir),
  maxBytes: config.importMaxBytes,
  maxJobs: config.importMaxJobs,
  owner: importOwner,
};
const readingRetention = startReadingRetention({
  store,
  retainDays: rawRetentionDays(config, store.compressReadingsBefore !== undefined) || undefined,
  retainRollupDays: config.retainRollupDays,
  logger,
});
const readingCompression = startReadingCompression({
  store,
  compressAfterHours: config.compressAfterHours,
  logger,
});
// The thresholds /stats counts by default: the alerting rules' (as consumer-alert reports them), and 50.
const rulesInForce = activeRules(redis);
const rollupCompaction = startRollupCompaction({
  store,
  logger,
  intervalMs: config.rollupCompactMs,
  thresholds: async () => defaultThresholds(await Promise.resolve(rulesInForce()).catch(() => [])),
});
const app = createApp({
  store,
  config,
  logger,
  pipeline,
  alertsFeed,
  ingest: {
    redis,
    stream: config.readingsStream,
    streams: readingPartitions,
    frameReadings: config.frameReadings,
  },
  tokens,
  imports,
  alerting: { redis, alertsStream: config.alertsStream, partitions: config.streamPartitions },
  retention: readingRetention.status,
  compression: readingCompression.status,
  storageIdentity,
});
const alertRetention = startAlertRetention({ store, retainDays: config.retainAlertDays, logger });
// Housekeeping of the workers hash runs here, on its own schedule; /health only reads.
const janitor = startWorkerJanitor(redis);
try {
  app.listen({ port: config.port, hostname: config.host });
} catch (error) {
  // Without this, a second API on the same port would either share it or die with a stack trace.
  const inUse = (error as { code?: string }).code === 'EADDRINUSE' || /in use/i.test(String((error as Error).message));
  logger.error('not_listening', {
    error: inUse
      ? `PORT ${config.port} on ${config.host} is already in use (another API?): stop it or set PORT`
      : `PORT ${config.port}: ${(error as Error).message}`,
  });
  process.exit(2);
}

logger.info('listening', {
  url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${app.server?.port}`,
  database: `${store.backend} ${store.location}`,
  writes: config.apiToken ? 'enabled (API_TOKEN set)' : 'disabled: set API_TOKEN',
  deviceTokens: tokens.configured ? 'accepted (TOKEN_SECRET or TOKEN_PUBLIC_KEY set)' : 'not accepted',
  ...(config.faultRate > 0 ? { faultRate: config.faultRate } : {}),
});

onShutdown(
  logger,
  async () => {
    await app.stop();
    // A job cut short goes on from its last committed line at the next start.
    await importWorker.stop();
    redis.disconnect();
    for (const { blockingRedis } of alertsFeed) blockingRedis.disconnect();
    janitor.stop();
    epoch.stop();
    replication.stop();
    await alertRetention.stop();
    await readingRetention.stop();
    await readingCompression.stop();
    await rollupCompaction.stop();
    await store.close();
  },
  config.shutdownTimeoutMs,
);
