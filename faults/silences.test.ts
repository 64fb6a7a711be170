/**
 * Absence rules under faults, checked with the silence checker: a fleet of 12 devices reporting
 * every 100 ms, 4 of which stop for 3 s mid-run and come back (silentForMs 1 s), through real
 * consumer-alert processes on a Redis of the test's own — live with one instance, and with two
 * while the evaluating one is killed -9 mid-silence (the other takes the lease over and works
 * through the backlog), with consumer-alert stopped through the silence and started after the
 * devices came back, and with Redis killed -9 and restarted from its AOF. Every silence alerted
 * once, dated from the device's reading before it, resolved once by the reading that ended it; no
 * other device ever called silent. What the devices sent is read back from the stream: what
 * Redis holds is what was sent, whatever a kill did to the replies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, decodeAlert, decodeReading, encodeReading, entryTimeMs, groupsCaughtUp, newEventId } from 'core';
import {
  type RedisServer,
  type ServiceProcess,
  redisUpFor,
  startRedisServer,
  startService,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import { type Arrivals, checkSilences } from './silence-checker.ts';

const SILENT_FOR_MS = 1_000;
const DEVICES = Array.from({ length: 12 }, (_, i) => `pump-${i}`);
const QUIET = new Set(DEVICES.slice(0, 4));
const entry = join(import.meta.dir, '../consumer-alert/src/index.ts');

let server: RedisServer;
let redis: Redis;
let rulesFile: string;
let dir: string;
beforeAll(async () => {
  // Every write on disk before it is answered: a kill -9 of Redis loses no reading the fleet sent.
  // One Redis, not a one-node cluster: a restarted cluster node refuses writes (CLUSTERDOWN) for
  // its first 2 s, which the fleet would take for silence.
  server = await startRedisServer({ fsync: 'always', cluster: false });
  // Back within 100 ms of a Redis restart, as a door would be.
  redis = createRedis(server.url, { name: 'silences', maxReconnectDelayMs: 100 });
  dir = await mkdtemp(join(tmpdir(), 'silences-'));
  await redisUpFor(redis, 3);
  rulesFile = join(dir, 'rules.json');
  await writeFile(
    rulesFile,
    JSON.stringify([
      { id: 'default', threshold: 1_000 },
      { kind: 'absence', id: 'quiet', device: 'pump-*', silentForMs: SILENT_FOR_MS },
    ]),
  );
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const instance = (name: string) =>
  startService(entry, {
    REDIS_URL: server.url,
    ALERT_RULES: rulesFile,
    ALERT_RULES_POLL_MS: '100',
    CONSUMER_NAME: name,
  });

/**
 * The fleet for `runMs`: every device a reading each 100 ms, the quiet ones none between
 * `quietFrom` and `quietFrom + 3 s`; `during` runs beside it. A reading Redis refused (it was
 * down) is not sent again: the device's next one follows.
 */
async function runFleet(runMs: number, quietFrom: number, during: () => Promise<void>) {
  const started = Date.now();
  const fault = during();
  while (Date.now() - started < runMs) {
    const elapsed = Date.now() - started;
    const quiet = elapsed >= quietFrom && elapsed < quietFrom + 3_000;
    for (const device of DEVICES) {
      if (quiet && QUIET.has(device)) continue;
      await redis
        .xadd(
          'readings',
          '*',
          ...encodeReading({
            id: newEventId(),
            deviceId: device,
            metric: 'kwh',
            value: 1,
            unit: 'kWh',
            ts: Date.now(),
          }),
        )
        .catch(() => undefined);
    }
    await Bun.sleep(100);
  }
  await fault;
}

/**
 * When Redis started, as absence rules take it (core's sweeper and scripts): its clock less its
 * uptime, rounded up to the next whole second — up to 2 s after the process began, never before.
 */
async function redisStartedAt(): Promise<number> {
  const [[seconds], info] = await Promise.all([redis.time(), redis.info('server')]);
  const uptime = Number(/uptime_in_seconds:(\d+)/.exec(info)?.[1] ?? 0);
  return (Number(seconds) - uptime + 1) * 1_000;
}

/** What each device sent, as the stream holds it: absence counts a reading when taken, or arrived if earlier. */
async function arrivalsInStream(): Promise<Map<string, Arrivals>> {
  const arrivals = new Map<string, Array<{ readingId: string; arrival: number }>>(DEVICES.map((d) => [d, []]));
  for (const [entryId, fields] of await redis.xrange('readings', '-', '+')) {
    const reading = decodeReading(fields);
    arrivals
      .get(reading.deviceId)
      ?.push({ readingId: reading.id, arrival: Math.min(reading.ts, entryTimeMs(entryId)) });
  }
  return arrivals;
}

async function verdict(restarts: readonly number[] = []) {
  await waitFor(() => groupsCaughtUp(redis, 'readings', ['alerts']), {
    what: 'every reading evaluated',
    timeoutMs: 30_000,
  });
  // A few sweeps after the last reading: anything still to come is in.
  await Bun.sleep(500);
  const arrivals = await arrivalsInStream();
  const alerts = (await redis.xrange('alerts', '-', '+'))
    .map(([, fields]) => decodeAlert(fields))
    .filter((alert) => alert.ruleId === 'quiet');
  const found = checkSilences(arrivals, alerts, SILENT_FOR_MS, restarts);
  console.log(
    JSON.stringify(found),
    JSON.stringify(alerts.map((a) => [a.deviceId, a.state, a.ts, a.readingId.slice(-6)])),
  );
  return { verdict: found, alerts };
}

describe('fault: silences (absence rules)', () => {
  const running: ServiceProcess[] = [];
  afterAll(async () => {
    for (const process of running) await process.kill('SIGKILL');
  });

  it('live, one instance: every silence once, resolved once, no other device silent', async () => {
    await redis.flushall();
    running.push(instance('silences-1'));
    await runFleet(7_000, 2_000, async () => {});
    const { verdict: found, alerts } = await verdict();
    expect(found).toEqual({ missed: [], false: [], unresolved: [] });
    expect(alerts.filter((a) => a.state === 'firing').length).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 60_000);

  it('two instances, the evaluating one killed -9 mid-silence: the other takes over and the run is exact', async () => {
    await redis.flushall();
    const first = instance('silences-a');
    running.push(first);
    await waitFor(() => first.output().includes('"evaluator_leading"'), { what: 'the first instance leading' });
    running.push(instance('silences-b'));
    await runFleet(14_000, 2_000, async () => {
      await Bun.sleep(2_500);
      await first.kill('SIGKILL');
    });
    const { verdict: found, alerts } = await verdict();
    expect(found).toEqual({ missed: [], false: [], unresolved: [] });
    expect(alerts.filter((a) => a.state === 'firing').length).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 90_000);

  it('consumer-alert stopped through the silence and started after the devices came back: it works through the backlog, and the run is exact', async () => {
    await redis.flushall();
    const first = instance('silences-stopped');
    running.push(first);
    await waitFor(() => first.output().includes('"evaluator_leading"'), { what: 'the instance leading' });
    let second: ServiceProcess | undefined;
    await runFleet(9_000, 2_000, async () => {
      await Bun.sleep(1_500);
      await first.kill('SIGTERM');
      // Back once the quiet devices report again (3 s of silence from 2 s in).
      await Bun.sleep(4_500);
      second = instance('silences-stopped');
      running.push(second);
    });
    const { verdict: found, alerts } = await verdict();
    expect(found).toEqual({ missed: [], false: [], unresolved: [] });
    expect(alerts.filter((a) => a.state === 'firing').length).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 60_000);

  it('Redis killed -9 and restarted from its AOF mid-run: the silence before is exact, and nobody is called silent for the time Redis was away', async () => {
    await redis.flushall();
    const only = instance('silences-redis');
    running.push(only);
    await waitFor(() => only.output().includes('"evaluator_leading"'), { what: 'the instance leading' });
    // The quiet devices are silent from 2 s to 5 s; Redis is away for 2 s from 6.5 s — every device then.
    await runFleet(12_000, 2_000, async () => {
      await Bun.sleep(6_500);
      await server.kill();
      await Bun.sleep(2 * SILENT_FOR_MS);
      await server.restart();
    });
    const { verdict: found, alerts } = await verdict([await redisStartedAt()]);
    // Exact, with every gap across the restart counted from it: the time Redis was away silences
    // nobody.
    expect(found).toEqual({ missed: [], false: [], unresolved: [] });
    // Each quiet device's silence; another device only if this test's own fleet, starved on a
    // busy machine, sent nothing for silentForMs after Redis was back (then it was silent, and
    // the checker expected that alert: once seen in CI, 13 alerts, exact).
    const firing = alerts.filter((a) => a.state === 'firing');
    expect(new Set(firing.filter((a) => QUIET.has(a.deviceId)).map((a) => a.deviceId)).size).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 90_000);
});
