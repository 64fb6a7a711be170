/**
 * Rate rules against hand-computed series: the real evaluation script on a Redis of the test's
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
  redis = createRedis(testRedis.url, { name: 'rate-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const base = Date.now() - 60_000;
/** pump-1's temp, one reading a second: changes +2, +8, +1, −6, −1 per second. */
const series: Reading[] = [10, 12, 20, 21, 15, 14].map((value, i) => ({
  id: newEventId(),
  deviceId: 'pump-1',
  metric: 'temp',
  value,
  unit: '°C',
  ts: base + i * 1_000,
}));

const evaluate = (rule: RuleInput, batches: Reading[][]) => alertsOfBatches(redis, rule, batches);

describe('rate rules', () => {
  it('fire when the change per second passes the limit either way, and resolve when a later one does not', async () => {
    const alerts = await evaluate({ kind: 'rate', id: 'jumps', perSecond: 5 }, [series]);
    expect(alerts.map((a) => [a.readingId, a.state, a.value, a.threshold])).toEqual([
      [series[2]?.id as string, 'firing', 8, 5],
      [series[3]?.id as string, 'resolved', 1, 5],
      [series[4]?.id as string, 'firing', -6, 5],
      [series[5]?.id as string, 'resolved', -1, 5],
    ]);
  });

  it('count only the direction asked for', async () => {
    const rising = await evaluate({ kind: 'rate', id: 'up', perSecond: 5, direction: 'rising' }, [series]);
    expect(rising.map((a) => [a.readingId, a.state])).toEqual([
      [series[2]?.id as string, 'firing'],
      [series[3]?.id as string, 'resolved'],
    ]);
    const falling = await evaluate({ kind: 'rate', id: 'down', perSecond: 5, direction: 'falling' }, [series]);
    expect(falling.map((a) => [a.readingId, a.state])).toEqual([
      [series[4]?.id as string, 'firing'],
      [series[5]?.id as string, 'resolved'],
    ]);
  });

  it('raise each transition once whatever the batches and however often a batch is evaluated again; a reading older than the newest changes nothing', async () => {
    const once = await evaluate({ kind: 'rate', id: 'jumps', perSecond: 5 }, [series]);
    const split = await evaluate({ kind: 'rate', id: 'jumps', perSecond: 5 }, [
      series.slice(0, 3),
      series.slice(0, 3),
      series.slice(3),
      [series[1] as Reading],
      series.slice(3),
    ]);
    expect(split.map((a) => a.id)).toEqual(once.map((a) => a.id));
  });
});
