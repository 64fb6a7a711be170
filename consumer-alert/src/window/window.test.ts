/**
 * Window rules against hand-computed series: the real evaluation script on a Redis of the test's
 * own, the alerts it writes read back from the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type Reading, type RuleInput, createRedis, newEventId } from 'core';
import { type TestRedis, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { alertsOfBatches } from '../test-evaluate.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'window-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const MINUTE = 60_000;
/** A minute's start ten minutes ago: steps of a minute begin at base + n minutes. */
const base = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;

/** pump-1's temp: `values[m]` are the readings of minute m, spread over it. */
function series(values: number[][]): Reading[] {
  return values.flatMap((minute, m) =>
    minute.map((value, i) => ({
      id: newEventId(),
      deviceId: 'pump-1',
      metric: 'temp',
      value,
      unit: '°C',
      ts: base + m * MINUTE + (i + 1) * 10_000,
    })),
  );
}

const evaluate = (rule: RuleInput, batches: Reading[][]) => alertsOfBatches(redis, rule, batches);

describe('window rules', () => {
  // Minute means 50, 75, 30, 10: the second minute's window is past 50, judged when minute 2 begins.
  const means = series([[40, 60], [70, 80], [30], [10]]);

  it('judge each window once complete: the mean past the threshold fires, a window back within it resolves', async () => {
    const alerts = await evaluate(
      { kind: 'window', id: 'hot', metric: 'temp', aggregate: 'mean', windowMs: MINUTE, threshold: 50 },
      [means],
    );
    expect(alerts.map((a) => [a.readingId, a.state, a.value, a.threshold, a.ts, a.note])).toEqual([
      [means[4]?.id as string, 'firing', 75, 50, base + 2 * MINUTE, 'mean over 60 s'],
      [means[5]?.id as string, 'resolved', 30, 50, base + 3 * MINUTE, 'mean over 60 s'],
    ]);
  });

  it('slide by stepMs and fire only once windows have stayed past the threshold for forMs', async () => {
    // Max over 2 minutes every minute: windows ending at minutes 1..5 hold max 40, 60, 60, 45, 45.
    const readings = series([[40], [60], [45], [45], [45], [10]]);
    const alerts = await evaluate(
      {
        kind: 'window',
        id: 'peaks',
        aggregate: 'max',
        windowMs: 2 * MINUTE,
        stepMs: MINUTE,
        threshold: 50,
        forMs: MINUTE,
      },
      [readings],
    );
    // Past at the windows ending at minutes 2 and 3: held a minute at 3, so it fires there.
    expect(alerts.map((a) => [a.readingId, a.state, a.value, a.ts])).toEqual([
      [readings[3]?.id as string, 'firing', 60, base + 3 * MINUTE],
      [readings[4]?.id as string, 'resolved', 45, base + 4 * MINUTE],
    ]);
  });

  it('count and min below a threshold', async () => {
    const readings = series([[5, 6], [7], [1, 9, 9]]);
    const count = await evaluate(
      { kind: 'window', id: 'rare', aggregate: 'count', windowMs: MINUTE, threshold: 2, direction: 'below' },
      [readings],
    );
    expect(count.map((a) => [a.readingId, a.state, a.value])).toEqual([[readings[3]?.id as string, 'firing', 1]]);
    const min = await evaluate(
      { kind: 'window', id: 'cold', aggregate: 'min', windowMs: MINUTE, threshold: 6, direction: 'below' },
      [[...readings, ...series([[], [], [], [8]])]],
    );
    expect(min.map((a) => [a.state, a.value])).toEqual([
      ['firing', 5],
      ['resolved', 7],
      ['firing', 1],
    ]);
  });

  it('raise each transition once whatever the batches and however often a batch is evaluated again; a reading older than the newest counts for nothing', async () => {
    const rule: RuleInput = { kind: 'window', id: 'hot', aggregate: 'mean', windowMs: MINUTE, threshold: 50 };
    const once = await evaluate(rule, [means]);
    const split = await evaluate(rule, [
      means.slice(0, 3),
      means.slice(0, 3),
      means.slice(3),
      [means[1] as Reading],
      means.slice(3),
    ]);
    expect(split.map((a) => [a.id, a.value])).toEqual(once.map((a) => [a.id, a.value]));
    // A redelivery overlapping what was counted (minute 1's first reading counted, its second not).
    const overlapping = await evaluate(rule, [means.slice(0, 3), means.slice(1, 5), means.slice(4)]);
    expect(overlapping.map((a) => [a.id, a.value])).toEqual(once.map((a) => [a.id, a.value]));
  });
});
