import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERT_VERSION, type ConsumerEntry, type Reading, type WindowRule, alertKeys, entryTimeMs } from 'core';
import type Redis from 'ioredis';
import { quietReason } from '../alert-modes.ts';

const EVALUATE_WINDOW = readFileSync(join(import.meta.dir, '../lua/evaluate-window.lua'), 'utf8');

type WindowingRedis = Redis & { evaluateWindow(numberOfKeys: number, ...keysAndArgs: string[]): Promise<string> };

/** A window rule's per-member state hash, beside the alerts stream. */

/**
 * A device's consecutive readings of a metric in a batch within one step, orders rising, as the
 * script takes it: [member, deviceId, metric, readingId, firstOrder, lastOrder, count, sum, min,
 * max, quiet?] — the first reading's id and quiet, since only a step's first reading can complete
 * a window. `positions` are its readings' places in the batch, sent one by one instead when a
 * redelivery overlaps it (rare: built only then).
 */
interface Run {
  tuple: Array<string | number>;
  step: number;
  positions: number[];
}

/** A reading as a run of one: [member, deviceId, metric, readingId, order, order, 1, value, value, value, quiet?]. */
function single(reading: Reading, order: number, quiet: string | undefined): Array<string | number> {
  const value = String(reading.value);
  const tuple = [
    `${reading.deviceId}|${reading.metric}`,
    reading.deviceId,
    reading.metric,
    reading.id,
    order,
    order,
    1,
  ];
  tuple.push(reading.value, value, value);
  if (quiet) tuple.push(quiet);
  return tuple;
}

/**
 * Window rules, in the `alerts` group's handler: each matching reading counted in its device's
 * steps, a window judged when the device's first reading past its end comes (lua/evaluate-window.lua).
 * Readings reach the script summed by run, one tuple per device and step in the batch rather than
 * one per reading: a batch of 5,000 readings from 1,000 devices reporting every second is about
 * 1,000 tuples for a minute's step. Readings are ordered as for threshold rules — min(ts,
 * arrival); one ordered at or before the device's previous one is stale.
 */
export function createWindowEvaluator(options: {
  redis: Redis;
  alertsStream: string;
  lease?: { key: string; token: string };
  notifyMaxAgeMs: number;
}) {
  const { alertsStream, lease, notifyMaxAgeMs } = options;
  if (!('evaluateWindow' in options.redis)) options.redis.defineCommand('evaluateWindow', { lua: EVALUATE_WINDOW });
  const redis = options.redis as WindowingRedis;
  // The keys it touches, named once (keys.ts).
  const names = alertKeys(redis, alertsStream);

  /** The rule's matching readings as runs, and how many readings were stale within the batch. */
  const runsOf = (rule: WindowRule, batch: ReadonlyArray<ConsumerEntry<Reading>>) => {
    const runs: Run[] = [];
    const open = new Map<string, Run>();
    let stale = 0;
    batch.forEach(({ entryId, value: reading }, position) => {
      if (!rule.matches(reading)) return;
      const arrivedAt = entryTimeMs(entryId);
      const order = Math.min(reading.ts, arrivedAt);
      const member = `${reading.deviceId}|${reading.metric}`;
      const run = open.get(member);
      if (run && order <= (run.tuple[5] as number)) {
        stale += 1;
        return;
      }
      const step = Math.floor(order / rule.stepMs) * rule.stepMs;
      if (run && run.step === step) {
        const tuple = run.tuple;
        tuple[5] = order;
        (tuple[6] as number) += 1;
        (tuple[7] as number) += reading.value;
        if (reading.value < Number(tuple[8])) tuple[8] = String(reading.value);
        if (reading.value > Number(tuple[9])) tuple[9] = String(reading.value);
        run.positions.push(position);
      } else {
        const next: Run = {
          tuple: single(reading, order, quietReason(reading, arrivedAt, notifyMaxAgeMs)),
          step,
          positions: [position],
        };
        runs.push(next);
        open.set(member, next);
      }
    });
    return { runs, stale };
  };

  const call = (rule: WindowRule, tuples: ReadonlyArray<ReadonlyArray<string | number>>) =>
    redis.evaluateWindow(
      lease ? 3 : 2,
      alertsStream,
      names.windowState(rule.id),
      ...(lease ? [lease.key] : []),
      ALERT_VERSION,
      JSON.stringify([
        rule.id,
        rule.severity,
        rule.aggregate,
        rule.windowMs,
        rule.stepMs,
        rule.threshold,
        rule.direction,
        rule.forMs,
      ]),
      JSON.stringify(tuples),
      lease?.token ?? '',
    );

  /** One rule's transitions: a character per run (or per reading, for runs sent again one by one). */
  const evaluateRule = async (rule: WindowRule, batch: ReadonlyArray<ConsumerEntry<Reading>>) => {
    const { runs, stale } = runsOf(rule, batch);
    if (runs.length === 0) return 's'.repeat(stale);
    const answer = await call(
      rule,
      runs.map((run) => run.tuple),
    );
    if (answer === '!') return '!';
    if (!answer.includes('p')) return answer + 's'.repeat(stale);
    // Runs a redelivery overlaps: their readings one by one, each counted or stale on its own.
    const singles = runs.flatMap((run, index) =>
      answer[index] === 'p'
        ? run.positions.map((position) => {
            const { entryId, value: reading } = batch[position] as ConsumerEntry<Reading>;
            const arrivedAt = entryTimeMs(entryId);
            return single(reading, Math.min(reading.ts, arrivedAt), quietReason(reading, arrivedAt, notifyMaxAgeMs));
          })
        : [],
    );
    const again = await call(rule, singles);
    return again === '!' ? '!' : answer.replaceAll('p', '') + again + 's'.repeat(stale);
  };

  return {
    /** The transitions of the batch (`f`, `r`, `-`, `s`), or `lease lost`. */
    async evaluate(
      rules: readonly WindowRule[],
      batch: ReadonlyArray<ConsumerEntry<Reading>>,
    ): Promise<string | 'lease lost'> {
      const results = await Promise.all(rules.map((rule) => evaluateRule(rule, batch)));
      return results.includes('!') ? 'lease lost' : results.join('');
    },
  };
}
