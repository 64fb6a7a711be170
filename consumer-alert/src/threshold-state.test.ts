/**
 * The contract between the scripts that write a threshold rule's per-device state (through
 * lua/threshold-state.lua) and TypeScript's reader of it: what the real evaluation script writes,
 * read back with decodeThresholdState.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type Reading, alertKeys, compileRule, createRedis, newEventId } from 'core';
import { type TestRedis, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from './evaluator.ts';
import { decodeThresholdState } from './threshold-state.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'state-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

describe('the threshold state codec', () => {
  it('reads what the evaluation script writes: state, streak, order, reading, metric, value and flapping marks', async () => {
    const alertsStream = uniqueName('alerts');
    const rule = compileRule({ id: 'hot', threshold: 50, flapping: { transitions: 3, withinMs: 60_000 } });
    const evaluator = createEvaluator({ redis, rules: [rule], alertsStream });
    const base = Date.now() - 10_000;
    const reading = (value: number, at: number): Reading => ({
      id: newEventId(),
      deviceId: 'pump-1',
      metric: 'temp',
      value,
      unit: '°C',
      ts: base + at,
    });
    const readings = [reading(60, 0), reading(40, 1_000), reading(70, 2_000)];
    const entryId = `${Date.now()}-0`;
    await evaluator.handle(readings.map((value) => ({ entryId, value, deliveries: 1 })));
    const packed = (await redis.hget(alertKeys(redis, alertsStream).thresholdState('hot'), 'pump-1')) as string;
    expect(decodeThresholdState(packed)).toEqual({
      state: 'firing',
      streak: 1,
      order: base + 2_000,
      notifiedOrder: base + 2_000,
      readingId: readings[2]?.id as string,
      metric: 'temp',
      value: '70',
      flapping: true,
      flapTimes: [base, base + 1_000, base + 2_000],
    });
  });

  it('reads states written before metric, value and flapping existed as having none, and refuses what is no state', () => {
    expect(decodeThresholdState('firing,0,5,5,r-1')).toMatchObject({
      state: 'firing',
      readingId: 'r-1',
      metric: '',
      value: '',
      flapping: false,
      flapTimes: [],
    });
    expect(decodeThresholdState('nonsense')).toBeUndefined();
  });
});
