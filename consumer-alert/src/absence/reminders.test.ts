/**
 * Absence rules' reminders (repeatAfterMs): the real sweep and reminder scripts on a Redis of the
 * test's own. A reminder's due time is set by hand to now instead of waiting for it, so nothing
 * here races the clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import {
  type AbsenceRule,
  type Reading,
  alertKeys,
  alertAckField,
  compileRule,
  createRedis,
  decodeAlert,
  isAbsenceRule,
  newEventId,
} from 'core';
import { type TestRedis, redisUpFor, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from '../evaluator.ts';
import { createAbsenceSweeper } from './sweeper.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'reminders-test' });
  await redisUpFor(redis, 3);
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const reading = (ts: number): Reading => ({
  id: newEventId(),
  deviceId: 'pump-1',
  metric: 'kwh',
  value: 1,
  unit: 'kWh',
  ts,
});
const entry = (value: Reading) => ({ entryId: `${Date.now()}-0`, value, deliveries: 1 });

/** A silent pump-1 on a rule reminding every minute. */
async function silentPump() {
  const alertsStream = uniqueName('alerts');
  const rule = compileRule({ kind: 'absence', id: 'quiet', silentForMs: 1_000, repeatAfterMs: 60_000 });
  if (!isAbsenceRule(rule)) throw new Error('not an absence rule');
  const evaluator = createEvaluator({ redis, rules: [rule], alertsStream });
  await evaluator.handle([entry(reading(Date.now() - 5_000))]);
  const sweeper = createAbsenceSweeper({
    redis,
    readingsStreams: [uniqueName('readings')],
    alertsGroup: 'alerts',
    alertsStream,
  });
  expect(await sweeper.sweep([rule])).toBe(1);
  const keys = alertKeys(redis, alertsStream).absence(rule.id);
  /** Makes the reminder due (at a time long past: the nth), as a minute's wait would. */
  let dueTimes = 0;
  const due = () => redis.zadd(keys.reminders, ++dueTimes, 'pump-1');
  const alerts = async () => (await redis.xrange(alertsStream, '-', '+')).map(([, fields]) => decodeAlert(fields));
  return { alertsStream, rule: rule as AbsenceRule, evaluator, sweeper, keys, due, alerts };
}

describe('absence reminders', () => {
  it('remind while the device stays silent, once per due time, with how long it has been silent', async () => {
    const { sweeper, rule, due, alerts } = await silentPump();
    expect(await sweeper.remind([rule])).toBe(0);
    await due();
    expect(await sweeper.remind([rule])).toBe(1);
    expect(await sweeper.remind([rule])).toBe(0);
    await due();
    expect(await sweeper.remind([rule])).toBe(1);
    const raised = await alerts();
    expect(raised.map((a) => a.state)).toEqual(['firing', 'firing', 'firing']);
    expect(raised[1]?.note).toMatch(/^still silent: no reading from the device for \d+ s$/);
    expect(new Set(raised.map((a) => a.id)).size).toBe(3);
  });

  it('stop when the silence is acknowledged, or ends; a new silence drops the old acknowledgement', async () => {
    const { alertsStream, sweeper, rule, evaluator, keys, due, alerts } = await silentPump();
    await redis.hset(alertKeys(redis, alertsStream).acks, alertAckField('quiet', 'pump-1'), '1');
    await due();
    expect(await sweeper.remind([rule])).toBe(0);
    expect(await redis.zcard(keys.reminders)).toBe(0);

    // Back, then silent again: the acknowledgement covered the first silence, not this one.
    await evaluator.handle([entry(reading(Date.now() - 3_000))]);
    expect(await sweeper.sweep([rule])).toBe(1);
    expect(await redis.hexists(alertKeys(redis, alertsStream).acks, alertAckField('quiet', 'pump-1'))).toBe(0);
    await evaluator.handle([entry(reading(Date.now() - 2_000))]);
    await due();
    expect(await sweeper.remind([rule])).toBe(0);
    expect(await redis.zcard(keys.reminders)).toBe(0);
    expect((await alerts()).map((a) => a.state)).toEqual(['firing', 'resolved', 'firing', 'resolved']);
  });
});
