import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type Reading, compileRule, createRedis, newEventId } from 'core';
import { type TestRedis, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from './evaluator.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'storm-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

describe('an alert storm', () => {
  it('is a batch mostly of transitions; a batch of few transitions is none', async () => {
    const evaluator = createEvaluator({
      redis,
      rules: [compileRule({ id: 'hot', threshold: 50 })],
      alertsStream: uniqueName('alerts'),
    });
    const base = Date.now() - 60_000;
    const batch = (values: (i: number) => number, from: number) =>
      Array.from({ length: 100 }, (_, i) => ({
        entryId: `${Date.now()}-0`,
        deliveries: 1,
        value: {
          id: newEventId(),
          deviceId: `d-${i % 10}`,
          metric: 'm',
          value: values(i),
          unit: 'u',
          ts: base + i,
        } as Reading,
      }));
    expect(evaluator.stormy()).toBe(false);
    // Ten devices flapping across the threshold with every reading.
    await evaluator.handle(batch((i) => (Math.floor(i / 10) % 2 === 0 ? 80 : 20), 0));
    expect(evaluator.stormy()).toBe(true);
    // The same devices, all quiet under it: one resolution each at most.
    await evaluator.handle(batch(() => 20, 1_000));
    expect(evaluator.stormy()).toBe(false);
  });
});
