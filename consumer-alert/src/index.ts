import {
  configOrExit,
  createConsumer,
  createLatencyHistogram,
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
  storageFirst,
  alertKeys,
  prepareKeysOrExit,
  readingStreamsOf,
} from 'core';
import { decodeForAlerting } from './alert-modes.ts';
import { createAnnouncer } from './announcer.ts';
import { createAbsenceSweeper } from './absence/sweeper.ts';
import { retireMemberRule } from './retire-member-rule.ts';
import { createEscalator } from './escalation.ts';
import { leaderDuties } from './leader-duties.ts';
import { rulesInForce } from './rules-in-force.ts';
import { type EvaluatorLease, LEASE_MS, evaluatorLease } from './evaluator-lease.ts';
import { partitionShare } from './partition-share.ts';
import { evaluateWhileLeading } from './leading.ts';
import { checkWebhookTarget, loadAlertConfig } from './config.ts';
import { conflictGate } from './conflict-gate.ts';
import { createEvaluator, emptyEvaluatorCounters } from './evaluator.ts';
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
const partitions = readingStreamsOf(config).streams;
const alertKeyNames = alertKeys(redis, config.alertsStream);
// One evaluator at a time per partition of the readings stream, the holder of its lease (see
// evaluator-lease.ts); the instances share the partitions (partition-share.ts); every instance notifies.
const leases = partitions.map((_, index) => evaluatorLease(redis, alertKeyNames.evaluatorLeaseOf(index), consumerName));
// Partition 0's holder also sweeps the time-based rules (absence, escalation) and retires rules.
const lease = leases[0] as EvaluatorLease;
// An evaluator per partition, fenced by its lease, adding to one set of counters.
const evaluated = { counters: emptyEvaluatorCounters(), detection: createLatencyHistogram() };
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
/** What each partition of the readings stream is evaluated with. */
const perPartition = new Map(
  partitions.map((stream, index) => [
    stream,
    {
      evaluator: createEvaluator({
        redis,
        rules: rules.current.rules,
        alertsStream: config.alertsStream,
        lease: leases[index],
        notifyMaxAgeMs: config.notifyMaxAgeMs,
        ...evaluated,
      }),
      // A reading storage found in conflict (same id, other content) is not evaluated.
      gate: conflictGate({
        redis,
        readingsStream: config.readingsStream,
        partition: stream,
        storeGroup: config.storeGroup,
        waitMs: config.waitForStoreMs,
        logger,
      }),
      // In an alert storm storage drains first: while the last batch was mostly transitions,
      // evaluation waits while the partition's store group catches up, and follows behind it;
      // with storage stuck it goes on at once. Outside storms it never waits.
      storage: storageFirst({ redis, stream, group: config.storeGroup }),
    },
  ]),
);
const partitionParts = (stream: string) => {
  const parts = perPartition.get(stream);
  if (!parts) throw new Error(`no partition ${stream}`);
  return parts;
};
const common = {
  redis,
  consumer: consumerName,
  logger,
  claimIdleMs: config.claimIdleMs,
  maxDeliveries: config.maxDeliveries,
};

// Group "alerts" on each partition: rules → transitions XADDed to the alerts stream, then ack —
// by the instance holding the partition's lease; an instance with no partition stands by.
const evaluating = evaluateWhileLeading({
  partitions: partitions.map((stream, index) => ({ stream, lease: leases[index] as EvaluatorLease })),
  share: partitionShare({
    redis,
    key: alertKeyNames.evaluators,
    instance: consumerName,
    partitions: partitions.length,
    ttlMs: LEASE_MS,
  }),
  redis,
  group: config.alertsGroup,
  consumerName,
  logger,
  renewEveryMs: Math.floor(LEASE_MS / 3),
  connectBlocking: () =>
    createRedis(redisTarget, { keyPrefix: config.keyPrefix, name: 'consumer-alert:alerts', logger }),
  makeConsumer: (blockingRedis, stream) => {
    const { evaluator, gate, storage } = partitionParts(stream);
    return createConsumer({
      ...common,
      blockingRedis,
      stream,
      group: config.alertsGroup,
      decodeItems: decodeForAlerting,
      // The store group dead-letters what the contract refuses: one dead letter per refused reading.
      undecodable: 'skip',
      handle: async (batch) => {
        if (evaluator.stormy()) await storage.wait();
        return gate.handle(batch, (kept) => evaluator.handle(kept));
      },
      batchSize: config.batchSize,
    });
  },
});
// Group "notify" on alerts: console and webhook, acked after a 2xx.
const notifying = createConsumer({
  ...common,
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
        for (const { evaluator } of perPartition.values()) evaluator.setRules(changed.rules);
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
    ...Object.fromEntries(Object.entries(evaluated.counters).map(([name, value]) => [`alerts_${name}`, value])),
    ...Object.fromEntries(Object.entries(notifier.counters).map(([name, value]) => [`notify_${name}`, value])),
    readings_acked: evaluating.stats().acked,
    alerts_acked: notifying.stats().acked,
    dead_lettered: evaluating.stats().deadLettered + notifying.stats().deadLettered,
    readings_refused_skipped: evaluating.stats().skipped,
    readings_conflicting_skipped: [...perPartition.values()].reduce((sum, { gate }) => sum + gate.skipped, 0),
  }),
  latencies: () => ({ detection: evaluated.detection, delivery: notifier.delivery }),
  logger,
});

const status = setInterval(() => {
  logger.info('status', {
    evaluator: { ...evaluated.counters, detection: evaluated.detection.summary() },
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
    logger.info('stopped', { evaluator: evaluated.counters, notifier: notifier.counters });
    for (const connection of [redis, notifierBlocking]) connection.disconnect();
  },
  config.shutdownTimeoutMs,
);

logger.info('watching', {
  rules: ruleSummaries,
  webhook: config.webhookUrl ? new URL(config.webhookUrl).host : 'none (console only)',
});
await Promise.all([evaluating.run(), notifying.run()]);
