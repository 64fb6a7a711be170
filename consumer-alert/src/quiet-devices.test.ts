/**
 * Readings of devices the evaluator knows quiet are not sent to the evaluation script
 * (quiet-devices.ts): the alerts must be exactly those of the script seeing every reading.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import {
  type ConsumerEntry,
  type Reading,
  type RuleInput,
  compileRule,
  createRedis,
  decodeAlert,
  newEventId,
} from 'core';
import { type TestRedis, uniqueName, useRedis } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from './evaluator.ts';
import { QuietDevices } from './quiet-devices.ts';

let testRedis: TestRedis;
let redis: Redis;
beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'quiet-devices-test' });
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
});

const base = Date.now() - 3_600_000;
const reading = (deviceId: string, value: number, ts: number): Reading => ({
  id: newEventId(),
  deviceId,
  metric: 'temp',
  value,
  unit: '°C',
  ts,
});
/** A batch of one stream entry, added at `arrivedAt`. */
const entryOf = (readings: readonly Reading[], arrivedAt: number, seq = 0): Array<ConsumerEntry<Reading>> =>
  readings.map((value) => ({ entryId: `${arrivedAt}-${seq}`, value, deliveries: 1 }));

async function alertsOf(stream: string) {
  return (await redis.xrange(stream, '-', '+')).map(([, fields]) => {
    const alert = decodeAlert(fields);
    return [alert.id, alert.ruleId, alert.deviceId, alert.state, alert.readingId, alert.quiet ?? false, alert.note];
  });
}

async function evaluatorCalls(): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

const rulesArbitrary = fc.record({
  forReadings: fc.integer({ min: 1, max: 3 }),
  clearAt: fc.constantFrom(50, 45),
  flapping: fc.boolean(),
  repeat: fc.boolean(),
  second: fc.boolean(),
});
const stepArbitrary = fc.record({
  device: fc.integer({ min: 0, max: 2 }),
  value: fc.constantFrom(20, 40, 44, 46, 50, 55, 70),
  // Mostly forward in time; sometimes the same time, earlier, or far ahead of its arrival.
  dt: fc.constantFrom(1_000, 1_000, 1_000, 1_000, 0, -3_000, 120_000),
});

describe('devices known quiet', () => {
  it('raise exactly the alerts the script raises seeing every reading (random fleets, rules, batches, redeliveries)', async () => {
    await fc.assert(
      fc.asyncProperty(
        rulesArbitrary,
        fc.array(stepArbitrary, { minLength: 20, maxLength: 120 }),
        fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 20, maxLength: 20 }),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        async (options, steps, sizes, redelivered) => {
          const inputs: RuleInput[] = [
            {
              id: 'hot',
              threshold: 50,
              clearAt: options.clearAt,
              forReadings: options.forReadings,
              ...(options.flapping ? { flapping: { transitions: 3, withinMs: 5_000 } } : {}),
              ...(options.repeat ? { repeatAfterMs: 4_000 } : {}),
            },
            ...(options.second ? [{ id: 'warm', threshold: 42, device: 'd1' }] : []),
          ];
          const rules = inputs.map(compileRule);
          const skipping = { stream: uniqueName('alerts-skipping') };
          const seeing = { stream: uniqueName('alerts-seeing') };
          const withSkips = createEvaluator({ redis, rules, alertsStream: skipping.stream });
          const withoutSkips = createEvaluator({
            redis,
            rules,
            alertsStream: seeing.stream,
            skipQuietDevices: false,
          });
          let ts = base;
          const readings = steps.map(({ device, value, dt }) => reading(`d${device}`, value, (ts += dt)));
          let arrivedAt = base;
          for (let start = 0, n = 0; start < readings.length; n++) {
            const size = sizes[n % sizes.length] as number;
            arrivedAt += size * 1_000;
            const batch = entryOf(readings.slice(start, start + size), arrivedAt, n);
            start += size;
            for (let times = redelivered[n % redelivered.length] ? 2 : 1; times > 0; times--) {
              await withSkips.handle(batch);
              await withoutSkips.handle(batch);
            }
          }
          expect(await alertsOf(skipping.stream)).toEqual(await alertsOf(seeing.stream));
          expect(withSkips.counters).toEqual(withoutSkips.counters);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('are not sent again: a second batch of quiet readings makes no threshold call', async () => {
    const rules = [compileRule({ id: 'hot', threshold: 50 })];
    const evaluator = createEvaluator({ redis, rules, alertsStream: uniqueName('alerts') });
    const first = Array.from({ length: 10 }, (_, i) => reading(`d${i}`, 20, base + i));
    await evaluator.handle(entryOf(first, base + 1_000));
    const before = await evaluatorCalls();
    const second = Array.from({ length: 10 }, (_, i) => reading(`d${i}`, 21, base + 2_000 + i));
    await evaluator.handle(entryOf(second, base + 3_000));
    // The devices' registry only (its own script): no threshold evaluation was needed.
    expect((await evaluatorCalls()) - before).toBe(1);
    expect(evaluator.counters.evaluated).toBe(20);
    // A breach is always sent.
    await evaluator.handle(entryOf([reading('d3', 70, base + 4_000)], base + 5_000));
    expect((await evaluatorCalls()) - before).toBe(3);
    expect(evaluator.counters.firing).toBe(1);
  });

  it('are kept up to a bound, each with the earliest order it was told, and forgotten when sent', () => {
    const quiet = new QuietDevices(1, 2);
    quiet.quiet(0, 'a', 20);
    quiet.quiet(0, 'a', 10);
    quiet.quiet(0, 'b', 5);
    // Past the bound: not kept, so its readings are sent.
    quiet.quiet(0, 'c', 5);
    expect(quiet.devices).toBe(2);
    expect([quiet.skips(0, 'a', 10), quiet.skips(0, 'a', 9), quiet.skips(0, 'c', 100)]).toEqual([true, false, false]);
    quiet.sent(0, 'a');
    expect([quiet.skips(0, 'a', 100), quiet.devices]).toEqual([false, 1]);
    quiet.quiet(0, 'c', 5);
    expect(quiet.skips(0, 'c', 5)).toBe(true);
  });

  it('are read again when a lead starts: another instance may have changed the states meanwhile', async () => {
    const rules = [compileRule({ id: 'hot', threshold: 50 })];
    const alertsStream = uniqueName('alerts');
    const mine = createEvaluator({ redis, rules, alertsStream });
    const theirs = createEvaluator({ redis, rules, alertsStream });
    await mine.handle(entryOf([reading('pump', 20, base)], base + 1_000));
    await mine.handle(entryOf([reading('pump', 21, base + 1_000)], base + 2_000));
    // The partition was another instance's for a while: the pump fired there.
    await theirs.handle(entryOf([reading('pump', 70, base + 2_000)], base + 3_000));
    mine.startLead();
    await mine.handle(entryOf([reading('pump', 22, base + 3_000)], base + 4_000));
    expect((await alertsOf(alertsStream)).map(([, , , state]) => state)).toEqual(['firing', 'resolved']);
  });
});
