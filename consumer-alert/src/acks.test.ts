/**
 * Acknowledgements as the evaluator reads them: a device acknowledged on a rule gets no reminders
 * (repeatAfterMs) until it resolves; firing anew starts unacknowledged. The real script on a Redis
 * of the test's own; the acknowledgement written as the API writes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type Reading, alertAckField, alertKeys, compileRule, createRedis, decodeAlert, newEventId } from 'core';
import { type TestRedis, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from './evaluator.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'acks-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

describe('acknowledged alerts', () => {
  it('get no reminders until the device resolves; firing anew, they come again', async () => {
    const alertsStream = uniqueName('alerts');
    const evaluator = createEvaluator({
      redis,
      rules: [compileRule({ id: 'hot', threshold: 50, repeatAfterMs: 1_000 })],
      alertsStream,
    });
    const base = Date.now() - 60_000;
    let at = 0;
    /** A reading of pump-1 every 600 ms (of its own time), evaluated at once. */
    const send = async (...values: number[]) => {
      for (const value of values) {
        const reading: Reading = {
          id: newEventId(),
          deviceId: 'pump-1',
          metric: 'temp',
          value,
          unit: '°C',
          ts: base + at,
        };
        at += 600;
        await evaluator.handle([{ entryId: `${Date.now()}-0`, value: reading, deliveries: 1 }]);
      }
    };
    const states = async () =>
      (await redis.xrange(alertsStream, '-', '+')).map(([, fields]) => decodeAlert(fields).state).join(' ');

    await send(80, 80, 80, 80);
    expect(await states()).toBe('firing firing');
    await redis.hset(alertKeys(redis, alertsStream).acks, alertAckField('hot', 'pump-1'), '{"author":"ops"}');
    await send(80, 80, 80, 80, 80);
    expect(await states()).toBe('firing firing');
    await send(20);
    expect(await states()).toBe('firing firing resolved');
    expect(await redis.hexists(alertKeys(redis, alertsStream).acks, alertAckField('hot', 'pump-1'))).toBe(0);
    await send(80, 80, 80);
    expect(await states()).toBe('firing firing resolved firing firing');
  });
});
