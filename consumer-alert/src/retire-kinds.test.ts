/**
 * A rule removed resolves what fires on it, each kind from its own state: a silence of an absence
 * rule, a device firing on a rate or window rule — once, however often the retire runs — and its
 * state goes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { type Reading, alertKeys, compileRule, createRedis, decodeAlert, isAbsenceRule, newEventId } from 'core';
import { type TestRedis, redisUpFor, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';

import { createAbsenceSweeper } from './absence/sweeper.ts';
import { createEvaluator } from './evaluator.ts';
import { retireMemberRule } from './retire-member-rule.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'retire-test' });
  await redisUpFor(redis, 3);
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const reading = (value: number, ts: number): Reading => ({
  id: newEventId(),
  deviceId: 'pump-1',
  metric: 'kwh',
  value,
  unit: 'kWh',
  ts,
});
const entry = (value: Reading) => ({ entryId: `${Date.now()}-0`, value, deliveries: 1 });
const alertsIn = async (stream: string) =>
  (await redis.xrange(stream, '-', '+')).map(([, fields]) => decodeAlert(fields));

describe('retiring a removed rule', () => {
  it('resolves an absence rule’s silences once, with a note, and drops its watch', async () => {
    const alertsStream = uniqueName('alerts');
    const rule = compileRule({ kind: 'absence', id: 'quiet', silentForMs: 1_000 });
    if (!isAbsenceRule(rule)) throw new Error('not an absence rule');
    await createEvaluator({ redis, rules: [rule], alertsStream }).handle([entry(reading(1, Date.now() - 5_000))]);
    const sweeper = createAbsenceSweeper({
      redis,
      readingsStreams: [uniqueName('readings')],
      alertsGroup: 'alerts',
      alertsStream,
    });
    expect(await sweeper.sweep([rule])).toBe(1);
    expect(await sweeper.retire('quiet', 'warning', 'rule quiet was removed')).toBe(1);
    expect(await sweeper.retire('quiet', 'warning', 'rule quiet was removed')).toBe(0);
    expect((await alertsIn(alertsStream)).map((a) => [a.state, a.note])).toEqual([
      ['firing', 'silent: no reading from the device for 1 s'],
      ['resolved', 'rule quiet was removed'],
    ]);
    const keys = alertKeys(redis, alertsStream).absence('quiet');
    expect(await redis.exists(keys.watch, keys.newest, keys.silent, keys.reminders)).toBe(0);
  });

  // Each a device firing on it after two readings: a jump of 20 in a second; a minute's mean of 30 past 20.
  const firingOn = {
    rate: {
      rule: { kind: 'rate', id: 'jumps', perSecond: 5 },
      stateKey: (alertsStream: string, ruleId: string) => alertKeys(redis, alertsStream).rateState(ruleId),
      values: [10, 30],
      stepMs: 1_000,
    },
    window: {
      rule: { kind: 'window', id: 'means', aggregate: 'mean', windowMs: 60_000, threshold: 20 },
      stateKey: (alertsStream: string, ruleId: string) => alertKeys(redis, alertsStream).windowState(ruleId),
      values: [30, 30],
      stepMs: 60_000,
    },
  } as const;

  for (const [kind, { rule, stateKey, values, stepMs }] of Object.entries(firingOn))
    it(`resolves a ${kind} rule’s firing devices once, with a note, and drops its state`, async () => {
      const alertsStream = uniqueName('alerts');
      const evaluator = createEvaluator({ redis, rules: [compileRule(rule)], alertsStream });
      const base = Math.floor((Date.now() - 10 * stepMs) / stepMs) * stepMs;
      await evaluator.handle(values.map((value, i) => entry(reading(value, base + i * stepMs))));
      const retire = () =>
        retireMemberRule(
          redis,
          alertsStream,
          stateKey(alertsStream, rule.id),
          rule.id,
          'warning',
          `rule ${rule.id} was removed`,
        );
      expect(await retire()).toBe(1);
      expect(await retire()).toBe(0);
      expect((await alertsIn(alertsStream)).map((a) => [a.state, a.note])).toEqual([
        ['firing', kind === 'window' ? 'mean over 60 s' : undefined],
        ['resolved', `rule ${rule.id} was removed`],
      ]);
      expect(await redis.exists(stateKey(alertsStream, rule.id))).toBe(0);
    });
});
