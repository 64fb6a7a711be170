import { type ConsumerEntry, type Reading, type ThresholdRule, entryTimes } from 'core';
import { quietReason } from './alert-modes.ts';
import type { QuietDevices } from './quiet-devices.ts';

/** A batch's (reading, threshold rule) pairs, as evaluate-alerts.lua takes them. */
export interface ThresholdPairs {
  /** Each pair sent: its reading, its rule's index, its order. */
  readings: Reading[];
  rules: number[];
  orders: number[];
  /** Each pair sent, as the script's tuple. */
  tuples: unknown[][];
  /** Pairs not sent: the script would have answered them `-` without a write (quiet-devices.ts). */
  skipped: number;
}

/**
 * One pair per reading and matching rule, in stream order. With `skipQuiet`, a reading that does
 * not breach, of a device `quiet` knows to be quiet, is counted, not sent; every pair sent makes
 * `quiet` forget its device (the state may change).
 */
export function thresholdPairs(
  batch: ReadonlyArray<ConsumerEntry<Reading>>,
  rules: readonly ThresholdRule[],
  notifyMaxAgeMs: number,
  quiet: QuietDevices,
  skipQuiet: boolean,
): ThresholdPairs {
  const pairs: ThresholdPairs = { readings: [], rules: [], orders: [], tuples: [], skipped: 0 };
  const arrivalOf = entryTimes();
  for (const { entryId, value: reading } of batch) {
    const arrivedAt = arrivalOf(entryId);
    const order = Math.min(reading.ts, arrivedAt);
    let quietNote: string | undefined | null = null;
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index] as ThresholdRule;
      if (!rule.matches(reading)) continue;
      const breaches = rule.breaches(reading.value);
      if (skipQuiet && !breaches && quiet.skips(index, reading.deviceId, order)) {
        pairs.skipped += 1;
        continue;
      }
      quiet.sent(index, reading.deviceId);
      if (quietNote === null) quietNote = quietReason(reading, arrivedAt, notifyMaxAgeMs);
      pairs.readings.push(reading);
      pairs.rules.push(index);
      pairs.orders.push(order);
      pairs.tuples.push([
        index + 1,
        (breaches ? 1 : 0) + (rule.clears(reading.value) ? 2 : 0),
        String(reading.ts),
        reading.deviceId,
        reading.id,
        String(reading.value),
        reading.metric,
        String(order),
        ...(quietNote ? [quietNote] : []),
      ]);
    }
  }
  return pairs;
}
