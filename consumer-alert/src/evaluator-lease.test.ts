import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { compileRule, createRedis, newEventId, alertKeys } from 'core';
import { type TestRedis, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { LeaseLostError, createEvaluator } from './evaluator.ts';
import { evaluatorLease } from './evaluator-lease.ts';

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await useRedis();
  redis = createRedis(server.url, { name: 'lease-test' });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('the evaluator lease', () => {
  it('is held by one instance at a time, renewed only by its holder, and handed over on release', async () => {
    const key = uniqueName('lease');
    const a = evaluatorLease(redis, key, 'instance-a');
    const b = evaluatorLease(redis, key, 'instance-b');
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true);
    expect(await b.renew()).toBe(false);
    await b.release();
    expect(await redis.get(key)).toBe('instance-a');
    await a.release();
    expect(await b.acquire()).toBe(true);
    expect(await a.renew()).toBe(false);
  });

  it('fences an instance that lost it: its batch changes no state and fires no alert', async () => {
    const alertsStream = uniqueName('alerts');
    const key = alertKeys(redis, alertsStream).evaluatorLease;
    const rules = [compileRule({ id: 'hot', threshold: 50 })];
    const formerHolder = createEvaluator({ redis, rules, alertsStream, lease: { key, token: 'instance-a' } });
    await redis.set(key, 'instance-b');
    const reading = { id: newEventId(), deviceId: 'd-1', metric: 'kwh', value: 99, unit: 'kWh', ts: Date.now() };
    await expect(
      formerHolder.handle([{ entryId: `${Date.now()}-0`, value: reading, deliveries: 1 }]),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await redis.xlen(alertsStream)).toBe(0);
    expect(await redis.hgetall(alertKeys(redis, alertsStream).thresholdState('hot'))).toEqual({});
    // The holder evaluates it.
    const holder = createEvaluator({ redis, rules, alertsStream, lease: { key, token: 'instance-b' } });
    await holder.handle([{ entryId: `${Date.now()}-0`, value: reading, deliveries: 1 }]);
    expect(await redis.xlen(alertsStream)).toBe(1);
  });
});
