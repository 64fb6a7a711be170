import {
  configOrExit,
  createConsumer,
  createLogger,
  createRedis,
  createSleeper,
  decodeAlert,
  defaultInstanceName,
  defaultRuleInputs,
  isAbsenceRule,
  isThresholdRule,
  loadRules,
  onShutdown,
  readSilences,
  redisTargetOrExit,
  ruleSummary,
  type Rule,
  startHeartbeat,
  startTrimmer,
  alertKeys,
  prepareKeysOrExit,
} from 'core';
import { createAnnouncer } from './announcer.ts';
import { createAbsenceSweeper } from './absence/sweeper.ts';
import { retireMemberRule } from './retire-member-rule.ts';
import { createEscalator } from './escalation.ts';
import { leaderDuties } from './leader-duties.ts';
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
const notifierBlocking = createRedis(redisTarget, {
  keyPrefix: config.keyPrefix,
  name: 'consumer-alert:notify',
  logger,
});

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
const { evaluating, partitions, lease } = byPartition;
// Absence rules: the lease holder calls silent the devices gone quiet, at every follow below.
const absenceSweeper = createAbsenceSweeper({
  redis,
  readingsStreams: partitions,
  alertsGroup: config.alertsGroup,
  alertsStream: config.alertsStream,
  lease,
});
// Escalation: the lease holder raises again what stays firing and unacknowledged (escalation.ts).
const escalator = createEscalator({ redis, alertsStream: config.alertsStream, lease });
const duties = leaderDuties({
  retireByKind: {
    absence: (id, severity, note) => absenceSweeper.retire(id, severity, note),
    rate: (id, severity, note) =>
      retireMemberRule(
        redis,
        config.alertsStream,
        alertKeys(redis, config.alertsStream).rateState(id),
        id,
        severity,
        note,
      ),
    window: (id, severity, note) =>
      retireMemberRule(
        redis,
        config.alertsStream,
        alertKeys(redis, config.alertsStream).windowState(id),
        id,
        severity,
        note,
      ),
  },
  redis,
  alertsStream: config.alertsStream,
  announcer: createAnnouncer({ redis, alertsStream: config.alertsStream, lease }),
  logger,
});
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
// Group "notify" on alerts: console and webhook, acked after a 2xx.
const notifying = createConsumer({
  redis,
  consumer: consumerName,
  logger,
  claimIdleMs: config.claimIdleMs,
  maxDeliveries: config.maxDeliveries,
  blockingRedis: notifierBlocking,
  stream: config.alertsStream,
  group: config.notifyGroup,
  decode: decodeAlert,
  handle: (batch) => notifier.handle(batch),
  batchSize: config.digestSize,
});

// The alerts stream only grows by transitions, but it must not grow forever either.
// Every 10 s, as the readings stream: with Redis nearly full, trimming is what makes room.
const trimmer = startTrimmer({
  redis,
  stream: config.alertsStream,
  retainEntries: config.retainAlerts,
  intervalMs: 10_000,
  logger,
});

/** The active rules as /health shows them (the dashboard draws their thresholds). */
const summarise = (list: readonly Rule[]) => list.map(ruleSummary);
let ruleSummaries = summarise(rules.current.rules);

// Every second: a new rule set is applied to the next batch; the evaluating instance retires
// removed rules and follows up ended silences.
const followSleeper = createSleeper();
let following = true;
let retiredFor: number | undefined;
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
      if (!evaluating.leading()) retiredFor = undefined;
      else {
        const { set, rules: current } = rules.current;
        if (retiredFor !== set.version) {
          await duties.retireRemovedRules(current, set.version);
          retiredFor = set.version;
        }
        await duties.followEndedSilences(current);
        const silent = await absenceSweeper.sweep(current.filter(isAbsenceRule));
        if (silent > 0) logger.info('devices_silent', { count: silent });
        const reminded = await absenceSweeper.remind(current.filter(isAbsenceRule));
        if (reminded > 0) logger.info('silences_reminded', { count: reminded });
        const escalated = await escalator.sweep(current.filter(isThresholdRule));
        if (escalated > 0) logger.info('alerts_escalated', { count: escalated });
      }
    } catch (error) {
      logger.warn('rules_follow_failed', { error: (error as Error).message });
    }
    await followSleeper.sleep(config.rulesPollMs);
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
    await Promise.race([trimmer.stop(), Bun.sleep(1_000)]);
    clearInterval(status);
    logger.info('stopped', { evaluator: byPartition.counters, notifier: notifier.counters });
    for (const connection of [redis, notifierBlocking]) connection.disconnect();
  },
  config.shutdownTimeoutMs,
);

logger.info('watching', {
  rules: ruleSummaries,
  webhook: config.webhookUrl ? new URL(config.webhookUrl).host : 'none (console only)',
});
await Promise.all([evaluating.run(), notifying.run()]);
