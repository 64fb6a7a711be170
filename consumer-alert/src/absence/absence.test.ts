/**
 * Absence rules end to end: the consumer-alert process against a Redis of the test's own, devices
 * publishing into the stream as the doors do. Checked by what the alerts stream holds — each
 * silence alerted once, dated from the device's newest reading, resolved once on its return, and
 * no device ever called silent that was not: never seen, outside the rule, or only waiting in a
 * backlog while consumer-alert was stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Alert,
  alertKeys,
  alertStreamOf,
  createRedis,
  decodeAlert,
  encodeReading,
  entryTimeMs,
  newEventId,
  readingStreams,
} from 'core';
import {
  type RedisServer,
  type ServiceProcess,
  redisUpFor,
  startRedisServer,
  startService,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';

const entry = join(import.meta.dir, '../index.ts');
const SILENT_FOR_MS = 1_500;
const RULES = [
  { id: 'default', threshold: 1_000 },
  { kind: 'absence', id: 'quiet', device: 'pump-*', silentForMs: SILENT_FOR_MS },
];

let server: RedisServer;
let redis: Redis;
/** `bun run test` runs this suite with the readings (and alerts) in 1 and in 4 partitions. */
const partitions = Number(process.env.TEST_STREAM_PARTITIONS ?? '1');
const readingPartitions = readingStreams('readings', partitions);
const alertPartitions = readingStreams('alerts', partitions).streams;
/** The absence rule's keys for a device: beside its partition of the alerts stream (the test's Redis has no KEY_PREFIX). */
const quietOf = (deviceId: string) =>
  alertKeys({ options: {} }, alertStreamOf('alerts', partitions, deviceId)).absence('quiet');
/** Every stream and the absence rule's keys gone: a test starts from nothing. */
async function clearAll() {
  await redis.del(...readingPartitions.streams, ...alertPartitions);
  for (const stream of alertPartitions) {
    const quiet = alertKeys({ options: {} }, stream).absence('quiet');
    await redis.del(quiet.watch, quiet.newest, quiet.silent);
  }
}
let dir: string;
let rulesFile: string;
beforeAll(async () => {
  // One Redis, not a one-node cluster: a restarted cluster node refuses writes (CLUSTERDOWN) for
  // its first 2 s, which the devices would take for silence (a test below restarts it).
  server = await startRedisServer({ cluster: false });
  // Back within 100 ms of a Redis restart, as a door would be soon after: a device's silence after
  // it is then the device's, not the test client's reconnect backoff.
  redis = createRedis(server.url, { name: 'absence-test', maxReconnectDelayMs: 100 });
  dir = await mkdtemp(join(tmpdir(), 'absence-test-'));
  await redisUpFor(redis, 3);
  rulesFile = join(dir, 'rules.json');
  await writeFile(rulesFile, JSON.stringify(RULES));
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const startAlerting = () =>
  startService(entry, {
    REDIS_URL: server.url,
    ALERT_RULES: rulesFile,
    ALERT_RULES_POLL_MS: '100',
    CONSUMER_NAME: 'absence-test',
    STREAM_PARTITIONS: String(partitions),
  });

/**
 * One reading from `deviceId`, dated now, as a door writes it; the time absence rules count it at:
 * when it was taken, or arrived (its entry's time) if earlier.
 */
async function report(deviceId: string): Promise<number> {
  const ts = Date.now();
  const id = await redis.xadd(
    readingPartitions.of(deviceId),
    '*',
    ...encodeReading({ id: newEventId(), deviceId, metric: 'kwh', value: 1, unit: 'kWh', ts }),
  );
  return Math.min(ts, entryTimeMs(id as string));
}

/** Calls `report` for each device every 100 ms until `until` resolves true. */
async function keepReporting(devices: readonly string[], until: () => boolean | Promise<boolean>) {
  const arrivals = new Map<string, number>();
  while (!(await until())) {
    for (const device of devices) arrivals.set(device, await report(device));
    await Bun.sleep(100);
  }
  return arrivals;
}

/** The absence rule's alerts, partition by partition (each device's in order). */
async function absenceAlerts(): Promise<Alert[]> {
  const alerts: Alert[] = [];
  for (const stream of alertPartitions)
    for (const [, fields] of await redis.xrange(stream, '-', '+')) alerts.push(decodeAlert(fields));
  return alerts.filter((a) => a.ruleId === 'quiet');
}

describe('absence rules', () => {
  let alerting: ServiceProcess;
  afterAll(async () => {
    await alerting?.kill('SIGKILL');
  });

  it('call a device silent once, dated from its newest reading, and resolve it once with its next; others never', async () => {
    await clearAll();
    alerting = startAlerting();
    await report('pump-1');
    const lastOfPump1 = await report('pump-1');
    // Not in the rule: never watched, however quiet.
    await report('meter-9');
    // pump-2 goes on reporting until pump-1 is called silent.
    await keepReporting(['pump-2'], async () => (await absenceAlerts()).length > 0);
    // A few sweeps more: nothing else, nothing twice.
    await keepReporting(['pump-2'], async () => {
      const swept = alerting.output().split('"devices_silent"').length;
      await Bun.sleep(300);
      return alerting.output().split('"devices_silent"').length === swept;
    });
    const fired = await absenceAlerts();
    expect(fired.map((a) => [a.deviceId, a.state, a.value])).toEqual([['pump-1', 'firing', undefined]]);
    expect(fired[0]?.ts).toBe(lastOfPump1 + SILENT_FOR_MS);
    expect(fired[0]?.note).toContain('silent');

    await report('pump-1');
    await waitFor(async () => (await absenceAlerts()).length === 2, { what: 'pump-1 back' });
    await report('pump-1');
    await Bun.sleep(500);
    const all = await absenceAlerts();
    expect(all.map((a) => [a.deviceId, a.state])).toEqual([
      ['pump-1', 'firing'],
      ['pump-1', 'resolved'],
    ]);
    expect(all[1]?.note).toBe('reporting again');
    await alerting.kill('SIGTERM');
  }, 30_000);

  it('do not call silent a device whose readings wait in a backlog while consumer-alert is stopped, and call silent exactly the gaps a live run would', async () => {
    await clearAll();
    alerting = startAlerting();
    const started = Date.now();
    await keepReporting(['pump-a', 'pump-b'], () => Date.now() - started > 600);
    await alerting.kill('SIGTERM');
    // Stopped: both go on reporting into the stream for longer than silentForMs, then pump-b stops.
    const stopped = Date.now();
    await keepReporting(['pump-a', 'pump-b'], () => Date.now() - stopped > SILENT_FOR_MS * 2);
    const lastOfB = await report('pump-b');
    const quietFrom = Date.now();
    await keepReporting(['pump-a'], () => Date.now() - quietFrom > SILENT_FOR_MS * 2);
    // Started again: it works through the backlog, then sweeps.
    alerting = startAlerting();
    await keepReporting(['pump-a'], async () => (await absenceAlerts()).length > 0);
    await keepReporting(['pump-a'], async () => {
      const swept = alerting.output().split('"devices_silent"').length;
      await Bun.sleep(300);
      return alerting.output().split('"devices_silent"').length === swept;
    });
    const fired = await absenceAlerts();
    expect(fired.map((a) => [a.deviceId, a.state])).toEqual([['pump-b', 'firing']]);
    expect(fired[0]?.ts).toBe(lastOfB + SILENT_FOR_MS);
    await alerting.kill('SIGTERM');
  }, 30_000);

  it('do not call silent the devices that could not report while Redis was down (kill -9, restarted from its AOF)', async () => {
    await clearAll();
    await redis.call('BGREWRITEAOF');
    alerting = startAlerting();
    const started = Date.now();
    await keepReporting(['pump-x'], () => Date.now() - started > 600);
    await waitFor(async () => (await redis.zcard(quietOf('pump-x').watch)) === 1, { what: 'pump-x watched' });
    await server.kill();
    await Bun.sleep(SILENT_FOR_MS * 2);
    await server.restart();
    // The device reports again as soon as it can: it was never silent, Redis was away.
    const back = Date.now();
    await keepReporting(['pump-x'], () => Date.now() - back > SILENT_FOR_MS * 2);
    expect(await absenceAlerts()).toEqual([]);
    expect(alerting.output()).not.toContain('"devices_silent"');
    await alerting.kill('SIGTERM');
  }, 30_000);
});
