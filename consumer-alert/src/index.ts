import {
  configOrExit,
  consumeEachPartition,
  createLogger,
  createRedis,
  createRedisPerPartition,
  createSleeper,
  decodeAlert,
  defaultInstanceName,
  defaultRuleInputs,
  loadRules,
  onShutdown,
  readSilences,
  redisTargetOrExit,
  ruleSummary,
  type Rule,
  startHeartbeat,
  startTrimmer,
  prepareKeysOrExit,
} from 'core';
import { partitionDuties } from './partition-duties.ts';
import { rulesInForce } from './rules-in-force.ts';
import { evaluateByPartition } from './partition-evaluation.ts';
import { checkWebhookTarget, loadAlertConfig } from './config.ts';
import { createNotifier } from './notifier.ts';
import { redisDeliveryLog } from './delivery-log.ts';
import { sharedPace } from './webhook-pace.ts';

const { config, seed } = await configOrExit('consumer-alert', async () => {
  const loaded = loadAlertConfig(process.env);
  await checkWebhookTarget(loaded);
  return {
    config: loaded,
    seed: loaded.rulesFile ? await loadRules(loaded.rulesFile) : defaultRuleInputs(loaded.threshold),
  };
});

const logger = createLogger({ service: 'consumer-alert', level: config.logLevel });
// REDIS_URL, or the primary through REDIS_SENTINELS (checked now: a bad list stops the start).
const redisTarget = await redisTargetOrExit('consumer-alert', config);
const redis = createRedis(redisTarget, { keyPrefix: config.keyPrefix, name: 'consumer-alert', logger });

// Keys written by an earlier version renamed before any is read (key-layout.ts).
await prepareKeysOrExit(redis, config, logger);
const consumerName = config.consumerName ?? defaultInstanceName();
// The rule set in force, shared through Redis: seeded from the configured rules, changed by PUT /rules.
const rules = rulesInForce({
  redis,
  alertsStream: config.alertsStream,
  seed,
  seedSource: config.rulesFile ? `file ${config.rulesFile}` : 'ALERT_THRESHOLD',
  logger,
});
await rules.start();
// Every partition of the readings stream evaluated by the holder of its lease (partition-evaluation.ts).
const byPartition = evaluateByPartition({
  redis,
  redisTarget,
  config,
  rules: rules.current.rules,
  consumerName,
  logger,
});
const { evaluating, partitions, alertStreams, leases } = byPartition;
// Each partition's time-based work (removed rules retired, ended silences followed up, absence
// swept, firings escalated), done by the holder of its lease at every follow below.
const duties = partitions.map((readingsStream, index) =>
  partitionDuties({
    redis,
    readingsStream,
    alertsStream: alertStreams[index] as string,
    baseAlertsStream: config.alertsStream,
    alertsGroup: config.alertsGroup,
    lease: leases[index] as (typeof leases)[number],
    logger,
  }),
);
const notifier = createNotifier({
  logger,
  webhookUrl: config.webhookUrl,
  allowPrivate: config.allowPrivateWebhook,
  format: config.webhookFormat,
  silences: () => readSilences(redis, config.alertsStream),
  deliveries: config.webhookUrl ? redisDeliveryLog(redis, config.webhookUrl) : undefined,
  // One pace per webhook across every instance, kept in Redis.
  pace: config.webhookUrl ? sharedPace(redis, config.webhookUrl, config.webhookMinIntervalMs) : undefined,
  minIntervalMs: config.webhookMinIntervalMs,
  timeoutMs: config.webhookTimeoutMs,
});
// Group "notify" on alerts: console and webhook, acked after a 2xx — a consumer per partition of
// the alerts stream, each on its own blocking connection.
const notifierBlocking = createRedisPerPartition(
  redisTarget,
  { keyPrefix: config.keyPrefix, name: 'consumer-alert:notify', logger },
  alertStreams.length,
);
const notifying = consumeEachPartition(alertStreams, notifierBlocking, {
  redis,
  consumer: consumerName,
  logger,
  claimIdleMs: config.claimIdleMs,
  maxDeliveries: config.maxDeliveries,
  group: config.notifyGroup,
  decode: decodeAlert,
  handle: (batch) => notifier.handle(batch),
  batchSize: config.digestSize,
});

// The alerts stream only grows by transitions, but it must not grow forever either.
// Every 10 s, as the readings stream: with Redis nearly full, trimming is what makes room.
// RETAIN_ALERTS is per partition, as RETAIN_ENTRIES is.
const trimmers = alertStreams.map((stream) =>
  startTrimmer({ redis, stream, retainEntries: config.retainAlerts, intervalMs: 10_000, logger }),
);

/** The active rules as /health shows them (the dashboard draws their thresholds). */
const summarise = (list: readonly Rule[]) => list.map(ruleSummary);
let ruleSummaries = summarise(rules.current.rules);

// Every second: a new rule set is applied to the next batch; each partition's lease holder does
// its duties (partition-duties.ts).
const followSleeper = createSleeper();
let following = true;
const follow = async () => {
  while (following) {
    try {
      const changed = await rules.poll();
      if (changed) {
        byPartition.setRules(changed.rules);
        ruleSummaries = summarise(changed.rules);
        logger.info('rules_changed', {
          version: changed.set.version,
          source: changed.set.source,
          rules: ruleSummaries,
        });
      }
      await followDuties();
    } catch (error) {
      logger.warn('rules_follow_failed', { error: (error as Error).message });
    }
    await followSleeper.sleep(config.rulesPollMs);
  }
};
/** Each led partition's duties; a failing one is logged and the others still run. */
const followDuties = async () => {
  const led = new Set(evaluating.partitionsLed());
  const { set, rules: current } = rules.current;
  for (const [index, partition] of duties.entries()) {
    if (!led.has(index)) {
      partition.notLeading();
      continue;
    }
    try {
      const { silent, reminded, escalated } = await partition.run(current, set.version);
      if (silent > 0) logger.info('devices_silent', { count: silent, partition: index });
      if (reminded > 0) logger.info('silences_reminded', { count: reminded, partition: index });
      if (escalated > 0) logger.info('alerts_escalated', { count: escalated, partition: index });
    } catch (error) {
      logger.warn('rules_follow_failed', { error: (error as Error).message, partition: index });
    }
  }
};
const followingDone = follow();

const heartbeat = startHeartbeat({
  info: () => ({
    rules: ruleSummaries,
    rulesVersion: rules.current.set.version,
    evaluator: evaluating.partitionsLed().length > 0 ? 'evaluating' : 'standby',
    partitionsEvaluated: evaluating.partitionsLed(),
  }),
  redis,
  intervalMs: config.heartbeatIntervalMs,
  file: config.heartbeatFile,
  service: 'consumer-alert',
  instance: consumerName,
  counters: () => ({
    ...Object.fromEntries(Object.entries(byPartition.counters).map(([name, value]) => [`alerts_${name}`, value])),
    ...Object.fromEntries(Object.entries(notifier.counters).map(([name, value]) => [`notify_${name}`, value])),
    readings_acked: evaluating.stats().acked,
    alerts_acked: notifying.stats().acked,
    dead_lettered: evaluating.stats().deadLettered + notifying.stats().deadLettered,
    readings_refused_skipped: evaluating.stats().skipped,
    readings_conflicting_skipped: byPartition.conflictsSkipped(),
  }),
  latencies: () => ({ detection: byPartition.detection, delivery: notifier.delivery }),
  logger,
});

const status = setInterval(() => {
  logger.info('status', {
    evaluator: { ...byPartition.counters, detection: byPartition.detection.summary() },
    notifier: { ...notifier.counters, delivery: notifier.delivery.summary() },
  });
}, config.statusIntervalMs);

onShutdown(
  logger,
  async () => {
    following = false;
    followSleeper.wakeAll();
    await Promise.race([followingDone, Bun.sleep(1_000)]);
    await Promise.all([evaluating.close(), notifying.close()]);
    await heartbeat.stop();
    await Promise.race([Promise.all(trimmers.map((trimmer) => trimmer.stop())), Bun.sleep(1_000)]);
    clearInterval(status);
    logger.info('stopped', { evaluator: byPartition.counters, notifier: notifier.counters });
    for (const connection of [redis, ...notifierBlocking]) connection.disconnect();
  },
  config.shutdownTimeoutMs,
);

logger.info('watching', {
  rules: ruleSummaries,
  webhook: config.webhookUrl ? new URL(config.webhookUrl).host : 'none (console only)',
});
await Promise.all([evaluating.run(), notifying.run()]);
