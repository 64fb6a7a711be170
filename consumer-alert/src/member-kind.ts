import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERT_VERSION, type ConsumerEntry, type Reading, type Rule, entryTimeMs } from 'core';
import type Redis from 'ioredis';
import { quietReason } from './alert-modes.ts';

type ScriptedRedis = Redis & Record<string, (numberOfKeys: number, ...keysAndArgs: string[]) => Promise<string>>;

/**
 * A kind judged reading by reading against a state per device and metric (rate, window), each in
 * its own script under lua/: one call per rule and batch, the rule's readings in stream order. The
 * script gets KEYS alerts stream, the rule's state hash[, lease] and ARGV alert version, the rule
 * (`ruleArgs`, as JSON), the readings as JSON — `[member, deviceId, metric, readingId, ts, order,
 * value, quiet?]` — and the lease token; it returns one character per reading (`f` fired, `r`
 * resolved, `-`, `s` stale) or `!` when the lease is another instance's. Readings are ordered as
 * for threshold rules — min(ts, arrival) — so a device clock running ahead cannot make later
 * readings look old, and one that arrived long after it was taken raises its transitions quiet
 * (ALERT_NOTIFY_MAX_AGE_MS).
 */
export function createMemberKind<R extends Rule>(kind: {
  /** The script's file under lua/. */
  script: string;
  /** The rule's state hash, beside the alerts stream. */
  stateKey: (alertsStream: string, ruleId: string) => string;
  /** What the script needs of the rule. */
  ruleArgs: (rule: R) => unknown[];
}) {
  const lua = readFileSync(join(import.meta.dir, 'lua', kind.script), 'utf8');
  const command = `evaluate_${kind.script.replace(/\W/g, '_')}`;

  return (options: {
    redis: Redis;
    alertsStream: string;
    lease?: { key: string; token: string };
    notifyMaxAgeMs: number;
  }) => {
    const { alertsStream, lease, notifyMaxAgeMs } = options;
    if (!(command in options.redis)) options.redis.defineCommand(command, { lua });
    const redis = options.redis as ScriptedRedis;

    /** The rule's matching readings, as the script takes them. */
    const readingsOf = (rule: R, batch: ReadonlyArray<ConsumerEntry<Reading>>) => {
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
      return readings;
    };

    return {
      /** The transitions of the batch, one character per matching reading per rule, or `lease lost`. */
      async evaluate(
        rules: readonly R[],
        batch: ReadonlyArray<ConsumerEntry<Reading>>,
      ): Promise<string | 'lease lost'> {
        const calls = rules.map((rule) => {
          const readings = readingsOf(rule, batch);
          if (readings.length === 0) return Promise.resolve('');
          return (redis[command] as ScriptedRedis[string])(
            lease ? 3 : 2,
            alertsStream,
            kind.stateKey(alertsStream, rule.id),
            ...(lease ? [lease.key] : []),
            ALERT_VERSION,
            JSON.stringify(kind.ruleArgs(rule)),
            JSON.stringify(readings),
            lease?.token ?? '',
          );
        });
        const results = await Promise.all(calls);
        return results.includes('!') ? 'lease lost' : results.join('');
      },
    };
  };
}
