import {
  type Logger,
  type RedisTarget,
  type Rule,
  alertKeys,
  alertStreamsOf,
  createConsumer,
  createLatencyHistogram,
  createRedis,
  readingStreamsOf,
  storageFirst,
} from 'core';
import type Redis from 'ioredis';
import { decodeForAlerting } from './alert-modes.ts';
import type { AlertConfig } from './config.ts';
import { conflictGate } from './conflict-gate.ts';
import { type EvaluatorLease, LEASE_MS, evaluatorLease } from './evaluator-lease.ts';
import { createEvaluator, emptyEvaluatorCounters } from './evaluator.ts';
import { evaluateWhileLeading } from './leading.ts';
import { partitionShare } from './partition-share.ts';

/**
 * The `alerts` group on each partition of the readings stream: rules → transitions XADDed to the
 * same partition of the alerts stream, beside which the partition's devices' alert state is kept
 * (keys.ts `alertKeys`), then ack — by the instance holding the partition's lease (evaluator-lease.ts),
 * the instances sharing the partitions (partition-share.ts); an instance with none stands by.
 * Each partition has its evaluator (fenced by its lease), its conflict gate and its storage-first
 * wait; they add to one set of counters.
 */
export function evaluateByPartition(options: {
  redis: Redis;
  redisTarget: RedisTarget;
  config: AlertConfig;
  rules: readonly Rule[];
  consumerName: string;
  logger: Logger;
}) {
  const { redis, redisTarget, config, consumerName, logger } = options;
  const partitions = readingStreamsOf(config).streams;
  const alertStreams = alertStreamsOf(config).streams;
  // Each partition's lease in its own slot: the evaluation scripts check it with the state they change.
  const leases = alertStreams.map((stream) =>
    evaluatorLease(redis, alertKeys(redis, stream).evaluatorLease, consumerName),
  );
  const evaluated = { counters: emptyEvaluatorCounters(), detection: createLatencyHistogram() };
  const parts = partitions.map((stream, index) => ({
    stream,
    evaluator: createEvaluator({
      redis,
      rules: options.rules,
      alertsStream: alertStreams[index] as string,
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
    // evaluation waits while the partition's store group catches up, and follows behind it; with
    // storage stuck it goes on at once. Outside storms it never waits.
    storage: storageFirst({ redis, stream, group: config.storeGroup }),
  }));
  const partOf = (stream: string) => {
    const part = parts.find((candidate) => candidate.stream === stream);
    if (!part) throw new Error(`${stream} is not a partition of ${config.readingsStream}`);
    return part;
  };

  const evaluating = evaluateWhileLeading({
    partitions: partitions.map((stream, index) => ({ stream, lease: leases[index] as EvaluatorLease })),
    share: partitionShare({
      redis,
      key: alertKeys(redis, config.alertsStream).evaluators,
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
      const { evaluator, gate, storage } = partOf(stream);
      // A consumer per lead: what the evaluator knew of the states is read again.
      evaluator.startLead();
      return createConsumer({
        redis,
        consumer: consumerName,
        logger,
        claimIdleMs: config.claimIdleMs,
        maxDeliveries: config.maxDeliveries,
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

  return {
    evaluating,
    partitions,
    /** Each partition's alerts stream, partition 0 first. */
    alertStreams,
    /** Each partition's lease: its holder also sweeps the partition's time-based rules and retires removed rules (partition-duties.ts). */
    leases: leases as readonly EvaluatorLease[],
    ...evaluated,
    /** From each partition's next batch on. */
    setRules(rules: readonly Rule[]) {
      for (const { evaluator } of parts) evaluator.setRules(rules);
    },
    /** Conflicting readings not evaluated since start. */
    conflictsSkipped: () => parts.reduce((sum, { gate }) => sum + gate.skipped, 0),
  };
}
