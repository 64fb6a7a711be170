import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import {
  type Alert,
  type Consumer,
  type Reading,
  type RuleInput,
  compileRule,
  createConsumer,
  createLogger,
  createRedis,
  decodeAlert,
  decodeReading,
  defaultRules,
  encodeReading,
  newEventId,
  readDeadLetters,
  readGroups,
  pipelineKeys,
  streamKeys,
  alertKeys,
} from 'core';
import { type TestRedis, startRedisServer, startService, uniqueName, useRedis, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from './evaluator.ts';
import { createNotifier } from './notifier.ts';
import { sharedPace } from './webhook-pace.ts';
import { redisDeliveryLog } from './delivery-log.ts';
import { startReceiver } from './test-receiver.ts';

let testRedis: TestRedis;
let redis: Redis;
let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];
const quiet = createLogger({ service: 'test', level: 'error', pretty: false, write: () => {} });

beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'alert-test' });
  dir = await mkdtemp(join(tmpdir(), 'alert-test-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.stop();
  await rm(dir, { recursive: true, force: true });
});

function consumerOf<T>(
  options: Omit<Parameters<typeof createConsumer<T>>[0], 'redis' | 'blockingRedis' | 'logger'>,
): Consumer {
  const blocking = createRedis(testRedis.url, { name: 'alert-test:blocking' });
  const consumer = createConsumer<T>({
    redis,
    blockingRedis: blocking,
    logger: quiet,
    blockMs: 100,
    retryBaseMs: 20,
    retryMaxMs: 200,
    ...options,
  });
  void consumer.run();
  cleanups.push(async () => {
    await consumer.close();
    blocking.disconnect();
  });
  return consumer;
}

/** The evaluating group on a fresh readings stream; returns the streams and a publish function. */
function evaluating(rules: RuleInput[] | undefined, instances = 1, options: { notifyMaxAgeMs?: number } = {}) {
  const readings = uniqueName('readings');
  const alerts = uniqueName('alerts');
  const compiled = rules ? rules.map(compileRule) : defaultRules(50);
  for (let i = 0; i < instances; i++) {
    const evaluator = createEvaluator({ redis, rules: compiled, alertsStream: alerts, ...options });
    consumerOf({
      stream: readings,
      group: 'alerts',
      consumer: `evaluator-${i}`,
      decode: decodeReading,
      handle: (batch) => evaluator.handle(batch),
      batchSize: 7,
    });
  }
  let clock = Date.now() - 60_000;
  const publish = async (values: number[], deviceId = 'device-001'): Promise<Reading[]> => {
    const published = values.map((value) => ({
      id: newEventId(),
      deviceId,
      metric: 'kwh',
      value,
      unit: 'kWh',
      ts: (clock += 10),
    }));
    const pipeline = redis.pipeline();
    for (const reading of published) pipeline.xadd(readings, '*', ...encodeReading(reading));
    await pipeline.exec();
    return published;
  };
  const alertList = async (): Promise<Alert[]> =>
    (await redis.xrange(alerts, '-', '+')).map(([, fields]) => decodeAlert(fields));
  const caughtUp = async () => {
    const [group] = await readGroups(redis, readings);
    return group?.pending === 0 && group.lag === 0;
  };
  return { readings, alerts, publish, alertList, caughtUp };
}

describe('threshold evaluation', () => {
  it('does not alert at exactly 50, fires at 50.01, resolves when back at or below', async () => {
    const { publish, alertList, caughtUp } = evaluating(undefined);
    const published = await publish([50, 49, 50.01, 70, 50]);
    await waitFor(caughtUp, { what: 'evaluated' });
    const alerts = await alertList();
    expect(alerts.map((a) => [a.state, a.value, a.readingId])).toEqual([
      ['firing', 50.01, published[2]?.id as string],
      ['resolved', 50, published[4]?.id as string],
    ]);
    expect(alerts[0]).toMatchObject({
      ruleId: 'default',
      threshold: 50,
      severity: 'warning',
      deviceId: 'device-001',
      metric: 'kwh',
    });
  });

  it('with clearAt 45, oscillating 49–52 fires once and resolves once, below 45', async () => {
    const { publish, alertList, caughtUp } = evaluating([{ id: 'hot', threshold: 50, clearAt: 45 }]);
    await publish([49, 52, 49, 52, 51, 49, 52, 46, 45, 44.9, 49]);
    await waitFor(caughtUp, { what: 'evaluated' });
    expect((await alertList()).map((a) => [a.state, a.value])).toEqual([
      ['firing', 52],
      ['resolved', 44.9],
    ]);
  });

  it('with forReadings 3 fires on the third consecutive breach only', async () => {
    const { publish, alertList, caughtUp } = evaluating([{ id: 'sustained', threshold: 50, forReadings: 3 }]);
    const published = await publish([60, 61, 40, 60, 61, 62, 63]);
    await waitFor(caughtUp, { what: 'evaluated' });
    const alerts = await alertList();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.readingId).toBe(published[5]?.id as string);
  });

  it('matches rules by metric and device glob, above or below', async () => {
    const { publish, alertList, caughtUp } = evaluating([
      { id: 'cold-pumps', device: 'pump-*', threshold: 5, direction: 'below', severity: 'critical' },
      { id: 'other-metric', metric: 'temp', threshold: 0 },
    ]);
    await publish([10, 4], 'pump-7');
    await publish([1], 'fan-1');
    await waitFor(caughtUp, { what: 'evaluated' });
    expect((await alertList()).map((a) => [a.ruleId, a.deviceId, a.state, a.severity])).toEqual([
      ['cold-pumps', 'pump-7', 'firing', 'critical'],
    ]);
  });

  it('ignores a reading older than the state, so late arrivals never flip it back', async () => {
    const { readings, publish, alertList, caughtUp } = evaluating(undefined);
    const [fresh] = await publish([80]);
    await waitFor(caughtUp, { what: 'evaluated' });
    await redis.xadd(
      readings,
      '*',
      ...encodeReading({ ...(fresh as Reading), id: newEventId(), value: 10, ts: (fresh as Reading).ts - 5 }),
    );
    await waitFor(caughtUp, { what: 'late reading evaluated' });
    expect((await alertList()).map((a) => a.state)).toEqual(['firing']);
  });

  it('raises quiet, saying why, the transitions of readings that arrived long after they were taken (a backfill); a fresh one as usual', async () => {
    const { readings, alertList, caughtUp } = evaluating(undefined, 1, { notifyMaxAgeMs: 15 * 60_000 });
    const hourAgo = Date.now() - 3_600_000;
    for (const [value, ts] of [
      [80, hourAgo],
      [20, hourAgo + 1_000],
      [90, Date.now()],
    ] as const) {
      await redis.xadd(
        readings,
        '*',
        ...encodeReading({ id: newEventId(), deviceId: 'backfill', metric: 'kwh', value, unit: 'kWh', ts }),
      );
    }
    await waitFor(caughtUp, { what: 'evaluated' });
    const raised = await alertList();
    expect(raised.map((alert) => [alert.state, alert.quiet === true])).toEqual([
      ['firing', true],
      ['resolved', true],
      ['firing', false],
    ]);
    expect(raised[0]?.note).toMatch(
      /^from the past: taken 60 min before it arrived \(ALERT_NOTIFY_MAX_AGE_MS\): recorded, not sent$/,
    );
    expect(raised[2]?.note).toBeUndefined();
  });

  describe('a reading dated ahead of its arrival', () => {
    const HOUR = 3_600_000;
    /** XADDs one reading per value, dated now (or `aheadMs` later), one after the other. */
    const sendNow = async (readings: string, deviceId: string, values: Array<[value: number, aheadMs?: number]>) => {
      const sent: Reading[] = [];
      for (const [value, aheadMs = 0] of values) {
        const reading = { id: newEventId(), deviceId, metric: 'kwh', value, unit: 'kWh', ts: Date.now() + aheadMs };
        await redis.xadd(readings, '*', ...encodeReading(reading));
        sent.push(reading);
        await Bun.sleep(5);
      }
      return sent;
    };

    it('23 hours ahead does not silence the device: every later transition still alerts', async () => {
      const { readings, alertList, caughtUp } = evaluating(undefined);
      const sent = await sendNow(readings, 'clock-fast', [[80], [20, 23 * HOUR], [90], [95], [10], [70]]);
      await waitFor(caughtUp, { what: 'evaluated' });
      expect((await alertList()).map((a) => [a.state, a.readingId])).toEqual([
        ['firing', sent[0]?.id as string],
        ['resolved', sent[1]?.id as string],
        ['firing', sent[2]?.id as string],
        ['resolved', sent[4]?.id as string],
        ['firing', sent[5]?.id as string],
      ]);
    });

    it('more than 24 hours ahead is dead-lettered with the reason, never folded into the state', async () => {
      const { readings, alertList, caughtUp } = evaluating(undefined);
      await sendNow(readings, 'clock-broken', [[80]]);
      await redis.xadd(
        readings,
        '*',
        ...encodeReading({
          id: newEventId(),
          deviceId: 'clock-broken',
          metric: 'kwh',
          value: 20,
          unit: 'kWh',
          ts: Date.UTC(2100, 0, 1),
        }),
      );
      const later = await sendNow(readings, 'clock-broken', [[10], [90]]);
      await waitFor(caughtUp, { what: 'evaluated' });
      expect((await alertList()).map((a) => [a.state, a.value])).toEqual([
        ['firing', 80],
        ['resolved', 10],
        ['firing', 90],
      ]);
      expect((await alertList()).at(-1)?.readingId).toBe(later[1]?.id as string);
      const [dead] = await readDeadLetters(redis, streamKeys(redis, readings).dead);
      expect(dead?.reason).toContain("ts is more than 24 hours ahead of this receiver's clock");
      expect(dead?.reason).toContain('2100-01-01T00:00:00.000Z');
    });

    it('a state an older version dated in 2100 is repaired by the next reading', async () => {
      const { readings, alerts, alertList, caughtUp } = evaluating(undefined);
      await redis.hset(
        alertKeys(redis, alerts).thresholdState('default'),
        'poisoned',
        `ok,0,${Date.UTC(2100, 0, 1)},${Date.UTC(2100, 0, 1)},old-reading`,
      );
      const sent = await sendNow(readings, 'poisoned', [[75], [30]]);
      await waitFor(caughtUp, { what: 'evaluated' });
      expect((await alertList()).map((a) => [a.state, a.readingId])).toEqual([
        ['firing', sent[0]?.id as string],
        ['resolved', sent[1]?.id as string],
      ]);
    });
  });

  it('with two instances and every reading delivered twice, notifies each transition once', async () => {
    const { readings, publish, alertList, caughtUp } = evaluating(undefined, 2);
    const all: Reading[] = [];
    for (let device = 0; device < 10; device++)
      all.push(...(await publish([60, 40, 70, 30, 55, 45], `device-${device}`)));
    await waitFor(caughtUp, { what: 'evaluated' });
    const first = await alertList();
    // Redelivery: the same readings (same ids and times) arrive again.
    const pipeline = redis.pipeline();
    for (const reading of all) pipeline.xadd(readings, '*', ...encodeReading(reading));
    await pipeline.exec();
    await waitFor(caughtUp, { what: 'redelivered readings evaluated' });
    const alerts = await alertList();
    expect(alerts).toEqual(first);
    const transitions = alerts.map((a) => `${a.deviceId}:${a.readingId}`);
    expect(new Set(transitions).size).toBe(transitions.length);
    // Per device the states alternate, starting with firing: no transition was fired twice.
    // (How many a device gets depends on which instance ran first: a reading older than the
    // state is ignored, by design.)
    expect(alerts.length).toBeGreaterThan(0);
    for (let device = 0; device < 10; device++) {
      const states = alerts.filter((a) => a.deviceId === `device-${device}`).map((a) => a.state);
      states.forEach((state, i) => expect(state).toBe(i % 2 === 0 ? 'firing' : 'resolved'));
    }
  });
});

/** The notify group on a fresh alerts stream, with a webhook receiver. */
function notifying(receiver: ReturnType<typeof startReceiver> | undefined, printed: string[] = []) {
  const alerts = uniqueName('alerts');
  const notifier = createNotifier({
    logger: quiet,
    webhookUrl: receiver?.url,
    allowPrivate: true,
    minIntervalMs: 1_000,
    timeoutMs: 2_000,
    print: (line) => printed.push(line),
    colour: false,
  });
  consumerOf({
    stream: alerts,
    group: 'notify',
    decode: decodeAlert,
    handle: (batch) => notifier.handle(batch),
    batchSize: 100,
  });
  const raise = async (count: number): Promise<string[]> => {
    const ids: string[] = [];
    const pipeline = redis.pipeline();
    for (let i = 0; i < count; i++) {
      const id = newEventId();
      ids.push(id);
      pipeline.xadd(
        alerts,
        '*',
        'v',
        '1',
        'id',
        id,
        'ruleId',
        'default',
        'deviceId',
        `device-${i}`,
        'metric',
        'kwh',
        'value',
        '77',
        'threshold',
        '50',
        'state',
        'firing',
        'severity',
        'warning',
        'ts',
        String(Date.now()),
        'readingId',
        newEventId(),
      );
    }
    await pipeline.exec();
    return ids;
  };
  const pending = async () => ((await redis.xpending(alerts, 'notify')) as [number])[0];
  return { alerts, notifier, raise, pending };
}

describe('notification', () => {
  it('prints a readable line per alert and, with no webhook, acks', async () => {
    const printed: string[] = [];
    const { raise, pending } = notifying(undefined, printed);
    const [id] = await raise(1);
    await waitFor(async () => printed.length === 1 && (await pending()) === 0, { what: 'printed and acked' });
    expect(printed[0]).toContain(`FIRING [warning] device-0 kwh = 77 (over 50, rule default)`);
    expect(printed[0]).toContain(id as string);
  });

  it('waits Retry-After on 429 each time, then delivers once', async () => {
    const receiver = startReceiver((n) =>
      n <= 3 ? { status: 429, body: 'rate_limited', headers: { 'retry-after': '2' } } : { status: 200, body: 'ok' },
    );
    cleanups.push(receiver.stop);
    const { raise, pending } = notifying(receiver);
    const [id] = await raise(1);
    await waitFor(async () => receiver.delivered().length > 0 && (await pending()) === 0, {
      what: 'delivered',
      timeoutMs: 15_000,
    });
    expect(receiver.received).toHaveLength(4);
    for (let i = 1; i < 4; i++)
      expect(receiver.received[i]!.at - receiver.received[i - 1]!.at).toBeGreaterThanOrEqual(1_990);
    expect(receiver.delivered()).toEqual([id as string]);
  }, 20_000);

  it('retries a 500, and dead-letters a 404 channel_not_found while later alerts flow', async () => {
    let mode: 'error' | 'gone' | 'ok' = 'error';
    const receiver = startReceiver(() => {
      if (mode === 'error') {
        mode = 'ok';
        return { status: 500, body: 'oops' };
      }
      if (mode === 'gone') {
        mode = 'ok';
        return { status: 404, body: 'channel_not_found' };
      }
      return { status: 200, body: 'ok' };
    });
    cleanups.push(receiver.stop);
    const { alerts, raise, pending } = notifying(receiver);
    const [retried] = await raise(1);
    await waitFor(() => receiver.delivered().includes(retried as string), { what: 'retried after 500' });
    mode = 'gone';
    const [lost] = await raise(1);
    await waitFor(async () => (await readDeadLetters(redis, streamKeys(redis, alerts).dead)).length === 1, {
      what: 'dead letter',
    });
    const [later] = await raise(1);
    await waitFor(async () => receiver.delivered().includes(later as string) && (await pending()) === 0, {
      what: 'later alert',
    });
    const dead = await readDeadLetters(redis, streamKeys(redis, alerts).dead);
    expect(dead[0]?.reason).toContain('channel_not_found');
    expect(dead[0]?.fields).toContain(lost as string);
  }, 20_000);

  it('turns 30 alerts at once into at most one message per second, every alert in one', async () => {
    const receiver = startReceiver();
    cleanups.push(receiver.stop);
    const { raise, pending } = notifying(receiver);
    const ids = [...(await raise(1)), ...(await raise(29))];
    await waitFor(async () => receiver.delivered().length >= 30 && (await pending()) === 0, {
      what: 'all delivered',
      timeoutMs: 15_000,
    });
    expect(new Set(receiver.delivered())).toEqual(new Set(ids));
    // Paced at one a second by the sender: no three arrive within a second, whatever the jitter
    // of a busy machine between a send and its arrival (two may, by less than a second's jitter).
    for (let i = 2; i < receiver.received.length; i++)
      expect(receiver.received[i]!.at - receiver.received[i - 2]!.at).toBeGreaterThanOrEqual(1_000);
    expect(receiver.received.length).toBeLessThanOrEqual(3);
    for (const id of ids) expect(receiver.received.some((message) => message.text.includes(id))).toBe(true);
  });
});

describe('one pace per webhook across instances', () => {
  it('two instances on one webhook never send two messages within its interval', async () => {
    const receiver = startReceiver();
    cleanups.push(receiver.stop);
    // Each turn as Redis granted it, on Redis's clock: the pace key holds the grant time plus the
    // interval until the next grant (which cannot come within the interval), so reading it right
    // after a turn gives that turn's time. Arrival times at the receiver carry network jitter.
    const granted: number[] = [];
    const pace = () => {
      const shared = sharedPace(redis, receiver.url, 1_000);
      return {
        async turn() {
          await shared.turn();
          granted.push(Number(await redis.get(pipelineKeys.webhook('webhook-pace', receiver.url))));
        },
      };
    };
    const instance = () =>
      createNotifier({
        logger: quiet,
        webhookUrl: receiver.url,
        allowPrivate: true,
        pace: pace(),
        print: () => {},
        colour: false,
      });
    const [first, second] = [instance(), instance()];
    const batch = (n: number) => [firingEntry(n, 'a')];
    await Promise.all([
      first.handle(batch(1)),
      second.handle(batch(2)),
      first.handle(batch(3)),
      second.handle(batch(4)),
    ]);
    expect(receiver.delivered().sort()).toEqual(['a-1', 'a-2', 'a-3', 'a-4']);
    expect(granted).toHaveLength(receiver.received.length);
    granted.sort((a, b) => a - b);
    for (let i = 1; i < granted.length; i++) expect(granted[i]! - granted[i - 1]!).toBeGreaterThanOrEqual(1_000);
  });
});

/** The `n`th firing alert (id `<prefix>-<n>`) as the notify group receives it. */
function firingEntry(n: number, prefix: string) {
  return {
    entryId: `${n}-0`,
    deliveries: 1,
    value: {
      id: `${prefix}-${n}`,
      ruleId: 'default',
      deviceId: `d-${n}`,
      metric: 'kwh',
      value: 51,
      threshold: 50,
      state: 'firing' as const,
      severity: 'warning' as const,
      ts: Date.now(),
      readingId: `r-${n}`,
    },
  };
}

describe('a notify group rebuilt from scratch', () => {
  it('does not send the webhook what it already answered 2xx to; only the new alerts go', async () => {
    const receiver = startReceiver();
    cleanups.push(receiver.stop);
    const deliveries = redisDeliveryLog(redis, receiver.url);
    const instance = () =>
      createNotifier({
        logger: quiet,
        webhookUrl: receiver.url,
        allowPrivate: true,
        minIntervalMs: 0,
        deliveries,
        print: () => {},
        colour: false,
      });
    const entry = (n: number) => firingEntry(n, 'rebuilt');
    expect(await instance().handle([entry(1), entry(2)])).toBeUndefined();
    // As if the group were destroyed and created again: the stream is read from its start.
    const rebuilt = instance();
    expect(await rebuilt.handle([entry(1), entry(2), entry(3)])).toBeUndefined();
    expect(await rebuilt.handle([entry(1)])).toBeUndefined();
    expect(receiver.received.map((message) => message.alertIds)).toEqual([['rebuilt-1', 'rebuilt-2'], ['rebuilt-3']]);
    expect(rebuilt.counters).toMatchObject({ sent: 1, alreadyDelivered: 3 });
  });
});

describe('the consumer-alert process', () => {
  const entry = join(import.meta.dir, 'index.ts');

  it('refuses a bad rules file at start, naming the entry', async () => {
    const rulesFile = join(dir, 'rules.json');
    await writeFile(
      rulesFile,
      JSON.stringify([
        { id: 'ok', threshold: 10 },
        { id: 'bad', threshold: 'high' },
        { id: 'ok', threshold: 1, clearAt: 5 },
      ]),
    );
    const service = startService(entry, { REDIS_URL: testRedis.url, ALERT_RULES: rulesFile });
    expect(await service.exited).toBe(2);
    expect(service.output()).toContain('[1] (bad): threshold: Expected number');
    expect(service.output()).toContain('[2] (ok): id "ok" is used twice');
  });

  it('refuses a webhook on a metadata address unless private addresses are allowed', async () => {
    const service = startService(entry, {
      REDIS_URL: testRedis.url,
      ALERT_WEBHOOK_URL: 'http://169.254.169.254/latest',
    });
    expect(await service.exited).toBe(2);
    expect(service.output()).toContain(
      'ALERT_WEBHOOK_URL: points at a non-public address (169.254.169.254: linkLocal)',
    );
  });

  it('stops on SIGTERM within SHUTDOWN_TIMEOUT_MS even when Redis is gone and nothing can be acked', async () => {
    const ownRedis = await startRedisServer();
    cleanups.push(() => ownRedis.stop());
    const service = startService(entry, { REDIS_URL: ownRedis.url, SHUTDOWN_TIMEOUT_MS: '1000' });
    await waitFor(() => service.events('watching').length === 1, { what: 'consumer-alert watching' });
    await ownRedis.kill();
    // Without the timeout it would wait for acks that cannot happen, and this test would time out.
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(service.events('shutdown_timed_out')).toHaveLength(1);
  });

  it('delivers an alert once after being killed between writing it and the webhook answering', async () => {
    const receiver = startReceiver((n) => (n === 1 ? 'hang' : { status: 200, body: 'ok' }));
    cleanups.push(receiver.stop);
    const readings = uniqueName('readings');
    const alerts = uniqueName('alerts');
    const env = {
      REDIS_URL: testRedis.url,
      READINGS_STREAM: readings,
      ALERTS_STREAM: alerts,
      ALERT_WEBHOOK_URL: receiver.url,
      ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
      CONSUMER_NAME: 'alerter',
      ALERT_WEBHOOK_TIMEOUT_MS: '60000',
    };
    const first = startService(entry, env);
    await redis.xadd(
      readings,
      '*',
      ...encodeReading({ id: newEventId(), deviceId: 'd', metric: 'kwh', value: 99, unit: 'kWh', ts: Date.now() }),
    );
    await waitFor(() => receiver.received.length === 1, { what: 'webhook called' });
    await first.kill('SIGKILL');
    const second = startService(entry, env);
    cleanups.push(async () => void (await second.kill('SIGTERM')));
    await waitFor(() => receiver.delivered().length === 1, { what: 'delivered after restart' });
    expect(await redis.xlen(alerts)).toBe(1);
    const [alert] = (await redis.xrange(alerts, '-', '+')).map(([, fields]) => decodeAlert(fields));
    // The receiver may see the same alert id twice (a retry); never a second alert.
    expect(new Set(receiver.received.flatMap((m) => m.alertIds))).toEqual(new Set([alert?.id as string]));
    await waitFor(async () => ((await redis.xpending(alerts, 'notify')) as [number])[0] === 0, { what: 'acked' });
  });
});
