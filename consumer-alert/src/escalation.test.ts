/**
 * Escalation on the real scripts and a Redis of the test's own: a device still firing and
 * unacknowledged `afterMs` after it fired is raised again with the step's severity, each step once;
 * an acknowledgement stops it; resolving and firing anew starts it over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import {
  type Reading,
  alertAckField,
  alertKeys,
  checkRules,
  compileRule,
  createRedis,
  decodeAlert,
  isThresholdRule,
  newEventId,
} from 'core';
import { type TestRedis, uniqueName, useRedis, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createEscalator } from './escalation.ts';
import { createEvaluator } from './evaluator.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'escalation-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const compiled = compileRule({
  id: 'hot',
  threshold: 50,
  escalate: [
    { afterMs: 1_000, severity: 'critical' },
    { afterMs: 1_500, severity: 'critical' },
  ],
});
if (!isThresholdRule(compiled)) throw new Error('not a threshold rule');
const rule = compiled;

function setUp() {
  const alertsStream = uniqueName('alerts');
  const evaluator = createEvaluator({ redis, rules: [rule], alertsStream });
  const escalator = createEscalator({ redis, alertsStream });
  let at = Date.now() - 60_000;
  const send = async (device: string, value: number) => {
    const reading: Reading = { id: newEventId(), deviceId: device, metric: 'temp', value, unit: '°C', ts: (at += 100) };
    await evaluator.handle([{ entryId: `${Date.now()}-0`, value: reading, deliveries: 1 }]);
  };
  const alerts = async () => (await redis.xrange(alertsStream, '-', '+')).map(([, fields]) => decodeAlert(fields));
  /** Sweeps until `n` alerts are in, then a few times more (anything still due would be raised). */
  const sweepUntil = async (n: number) => {
    await waitFor(async () => (await escalator.sweep([rule])) >= 0 && (await alerts()).length >= n, {
      what: `${n} alerts`,
      intervalMs: 100,
    });
    for (let i = 0; i < 3; i++) await escalator.sweep([rule]);
  };
  return { alertsStream, send, alerts, sweepUntil, escalator };
}

describe('escalation', () => {
  it('raises each step once for a firing left unacknowledged, with its severity and a note; resolving and firing anew starts over', async () => {
    const { send, alerts, sweepUntil } = setUp();
    await send('pump-1', 80);
    await sweepUntil(3);
    expect((await alerts()).map((a) => [a.state, a.severity])).toEqual([
      ['firing', 'warning'],
      ['firing', 'critical'],
      ['firing', 'critical'],
    ]);
    expect((await alerts())[1]?.note).toMatch(/^escalated to critical: firing \d+ min, unacknowledged$/);
    await send('pump-1', 20);
    await send('pump-1', 80);
    await sweepUntil(7);
    expect((await alerts()).map((a) => a.severity).slice(3)).toEqual(['warning', 'warning', 'critical', 'critical']);
  });

  it('raises nothing for an acknowledged firing', async () => {
    const { alertsStream, send, alerts, escalator } = setUp();
    await send('pump-2', 80);
    await redis.hset(alertKeys(redis, alertsStream).acks, alertAckField('hot', 'pump-2'), '{"author":"ops"}');
    // A sibling left unacknowledged shows when the steps were due.
    await send('pump-3', 80);
    await waitFor(async () => (await escalator.sweep([rule])) >= 0 && (await alerts()).length >= 4, {
      what: 'pump-3 escalated',
      intervalMs: 100,
    });
    expect((await alerts()).filter((a) => a.deviceId === 'pump-2').map((a) => a.severity)).toEqual(['warning']);
  });

  it('names escalation steps out of order', () => {
    expect(() =>
      checkRules(
        [
          {
            id: 'x',
            threshold: 1,
            escalate: [
              { afterMs: 5_000, severity: 'critical' },
              { afterMs: 2_000, severity: 'critical' },
            ],
          },
        ],
        'rules',
      ),
    ).toThrow(/escalate\/1\/afterMs must be later than the step before \(5000 ms\)/);
  });
});
