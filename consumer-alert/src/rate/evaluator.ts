import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERT_VERSION, type ConsumerEntry, type RateRule, type Reading, alertKeys, entryTimeMs } from 'core';
import type Redis from 'ioredis';
import { quietReason } from '../alert-modes.ts';

const EVALUATE_RATE = readFileSync(join(import.meta.dir, '../lua/evaluate-rate.lua'), 'utf8');

type RatingRedis = Redis & { evaluateRate(numberOfKeys: number, ...keysAndArgs: string[]): Promise<string> };

/** A rate rule's per-member state hash, beside the alerts stream. */

/**
 * Rate rules, in the `alerts` group's handler: each matching reading against the device's previous
 * reading of the metric, in one script call per rule and batch (lua/evaluate-rate.lua). Readings
 * are ordered as for threshold rules — min(ts, arrival) — so a device clock running ahead cannot
 * make later readings look old, and one that arrived long after it was taken raises its
 * transitions quiet (ALERT_NOTIFY_MAX_AGE_MS).
 */
export function createRateEvaluator(options: {
  redis: Redis;
  alertsStream: string;
  lease?: { key: string; token: string };
  notifyMaxAgeMs: number;
}) {
  const { alertsStream, lease, notifyMaxAgeMs } = options;
  if (!('evaluateRate' in options.redis)) options.redis.defineCommand('evaluateRate', { lua: EVALUATE_RATE });
  const redis = options.redis as RatingRedis;
  // The keys it touches, named once (keys.ts).
  const names = alertKeys(redis, alertsStream);

  return {
    /** The transitions of the batch, one character per matching reading per rule, or `lease lost`. */
    async evaluate(
      rules: readonly RateRule[],
      batch: ReadonlyArray<ConsumerEntry<Reading>>,
    ): Promise<string | 'lease lost'> {
      const calls = rules.map((rule) => {
        const readings: string[][] = [];
        for (const { entryId, value: reading } of batch) {
          if (!rule.matches(reading)) continue;
          const arrivedAt = entryTimeMs(entryId);
          const quiet = quietReason(reading, arrivedAt, notifyMaxAgeMs);
          readings.push([
            `${reading.deviceId}|${reading.metric}`,
            reading.deviceId,
            reading.metric,
            reading.id,
            String(reading.ts),
            String(Math.min(reading.ts, arrivedAt)),
            String(reading.value),
            ...(quiet ? [quiet] : []),
          ]);
        }
        if (readings.length === 0) return Promise.resolve('');
        return redis.evaluateRate(
          lease ? 3 : 2,
          alertsStream,
          names.rateState(rule.id),
          ...(lease ? [lease.key] : []),
          ALERT_VERSION,
          JSON.stringify([rule.id, rule.severity, rule.perSecond, rule.direction]),
          JSON.stringify(readings),
          lease?.token ?? '',
        );
      });
      const results = await Promise.all(calls);
      return results.includes('!') ? 'lease lost' : results.join('');
    },
  };
}
