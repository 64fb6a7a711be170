import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALERT_VERSION,
  type AbsenceRule,
  type ConsumerEntry,
  type Reading,
  alertKeys,
  absenceMemberOf,
  entryTimeMs,
} from 'core';
import type Redis from 'ioredis';

const OBSERVE = readFileSync(join(import.meta.dir, '../lua/observe-absence.lua'), 'utf8');

type ObservingRedis = Redis & {
  observeAbsence(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number | string>;
};

/**
 * The readings' side of absence rules: each reading a rule matches keeps its device (or device and
 * metric) watched as of when it was taken — or arrived in the stream, if earlier — never when it
 * was evaluated: a backlog's readings count as they came in, an import of old readings makes no
 * device live now. One from a device called silent resolves the silence.
 * Part of the `alerts` group's handler: the reading is acknowledged after this is applied.
 */
export function createAbsenceObserver(options: {
  redis: Redis;
  alertsStream: string;
  lease?: { key: string; token: string };
}) {
  const { alertsStream, lease } = options;
  if (!('observeAbsence' in options.redis)) options.redis.defineCommand('observeAbsence', { lua: OBSERVE });
  const redis = options.redis as ObservingRedis;
  // The keys it touches, named once (keys.ts).
  const names = alertKeys(redis, alertsStream);

  return {
    /**
     * Applies the batch to every absence rule: how many silences resolved, or `lease lost` when
     * the lease is another instance's (nothing was applied where it was not).
     */
    async observe(
      rules: readonly AbsenceRule[],
      batch: ReadonlyArray<ConsumerEntry<Reading>>,
    ): Promise<number | 'lease lost'> {
      const calls = rules.map((rule) => {
        const readings: string[][] = [];
        for (const { entryId, value: reading } of batch) {
          if (!rule.matches(reading)) continue;
          readings.push([
            absenceMemberOf(rule.perMetric, reading.deviceId, reading.metric),
            reading.deviceId,
            reading.metric,
            reading.id,
            String(reading.ts),
            // When it was taken, or arrived if that is earlier (a device clock running ahead): an
            // import of last week's readings makes no device live now, a backlog counts as live.
            String(Math.min(reading.ts, entryTimeMs(entryId))),
          ]);
        }
        if (readings.length === 0) return Promise.resolve(0);
        const keys = names.absence(rule.id);
        return redis.observeAbsence(
          lease ? 5 : 4,
          alertsStream,
          keys.watch,
          keys.newest,
          keys.silent,
          ...(lease ? [lease.key] : []),
          ALERT_VERSION,
          JSON.stringify([rule.id, rule.severity, rule.silentForMs, rule.perMetric ? 1 : 0]),
          JSON.stringify(readings),
          lease?.token ?? '',
        );
      });
      const results = await Promise.all(calls);
      if (results.includes('!')) return 'lease lost';
      return results.reduce<number>((sum, n) => sum + Number(n), 0);
    },
  };
}
