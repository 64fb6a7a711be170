/**
 * Absence rules under faults, checked with the silence checker: a fleet of 12 devices reporting
 * every 100 ms, 4 of which stop for 3 s mid-run and come back (silentForMs 1 s), through real
 * consumer-alert processes on a Redis of the test's own — live with one instance, and with two
 * while the evaluating one is killed -9 mid-silence (the other takes the lease over and works
 * through the backlog), and with consumer-alert stopped through the silence and started after the
 * devices came back. Every silence alerted once, dated from the device's reading before it,
 * resolved once by the reading that ended it; no other device ever called silent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, decodeAlert, encodeReading, entryTimeMs, groupsCaughtUp, newEventId } from 'core';
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
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'silences' });
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
 * `quietFrom` and `quietFrom + 3 s`; `during` runs beside it. Returns each device's arrivals.
 */
async function runFleet(runMs: number, quietFrom: number, during: () => Promise<void>) {
  const arrivals = new Map<string, Array<{ readingId: string; arrival: number }>>(DEVICES.map((d) => [d, []]));
  const started = Date.now();
  const fault = during();
  while (Date.now() - started < runMs) {
    const elapsed = Date.now() - started;
    const quiet = elapsed >= quietFrom && elapsed < quietFrom + 3_000;
    for (const device of DEVICES) {
      if (quiet && QUIET.has(device)) continue;
      const [readingId, ts] = [newEventId(), Date.now()];
      const entryId = await redis.xadd(
        'readings',
        '*',
        ...encodeReading({ id: readingId, deviceId: device, metric: 'kwh', value: 1, unit: 'kWh', ts }),
      );
      // Absence counts a reading when it was taken, or arrived if earlier.
      arrivals.get(device)?.push({ readingId, arrival: Math.min(ts, entryTimeMs(entryId as string)) });
    }
    await Bun.sleep(100);
  }
  await fault;
  return arrivals as Map<string, Arrivals>;
}

async function verdictAfter(arrivals: Map<string, Arrivals>) {
  await waitFor(() => groupsCaughtUp(redis, 'readings', ['alerts']), {
    what: 'every reading evaluated',
    timeoutMs: 30_000,
  });
  // A few sweeps after the last reading: anything still to come is in.
  await Bun.sleep(500);
  const alerts = (await redis.xrange('alerts', '-', '+'))
    .map(([, fields]) => decodeAlert(fields))
    .filter((alert) => alert.ruleId === 'quiet');
  const verdict = checkSilences(arrivals, alerts, SILENT_FOR_MS);
  console.log(
    JSON.stringify(verdict),
    JSON.stringify(alerts.map((a) => [a.deviceId, a.state, a.ts, a.readingId.slice(-6)])),
  );
  return { verdict, alerts };
}

describe('fault: silences (absence rules)', () => {
  const running: ServiceProcess[] = [];
  afterAll(async () => {
    for (const process of running) await process.kill('SIGKILL');
  });

  it('live, one instance: every silence once, resolved once, no other device silent', async () => {
    await redis.flushall();
    running.push(instance('silences-1'));
    const arrivals = await runFleet(7_000, 2_000, async () => {});
    const { verdict, alerts } = await verdictAfter(arrivals);
    expect(verdict).toEqual({ missed: [], false: [], unresolved: [] });
    expect(alerts.filter((a) => a.state === 'firing').length).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 60_000);

  it('two instances, the evaluating one killed -9 mid-silence: the other takes over and the run is exact', async () => {
    await redis.flushall();
    const first = instance('silences-a');
    running.push(first);
    await waitFor(() => first.output().includes('"evaluator_leading"'), { what: 'the first instance leading' });
    running.push(instance('silences-b'));
    const arrivals = await runFleet(14_000, 2_000, async () => {
      await Bun.sleep(2_500);
      await first.kill('SIGKILL');
    });
    const { verdict, alerts } = await verdictAfter(arrivals);
    expect(verdict).toEqual({ missed: [], false: [], unresolved: [] });
    expect(alerts.filter((a) => a.state === 'firing').length).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 90_000);

  it('consumer-alert stopped through the silence and started after the devices came back: it works through the backlog, and the run is exact', async () => {
    await redis.flushall();
    const first = instance('silences-stopped');
    running.push(first);
    await waitFor(() => first.output().includes('"evaluator_leading"'), { what: 'the instance leading' });
    let second: ServiceProcess | undefined;
    const arrivals = await runFleet(9_000, 2_000, async () => {
      await Bun.sleep(1_500);
      await first.kill('SIGTERM');
      // Back once the quiet devices report again (3 s of silence from 2 s in).
      await Bun.sleep(4_500);
      second = instance('silences-stopped');
      running.push(second);
    });
    const { verdict, alerts } = await verdictAfter(arrivals);
    expect(verdict).toEqual({ missed: [], false: [], unresolved: [] });
    expect(alerts.filter((a) => a.state === 'firing').length).toBe(QUIET.size);
    for (const process of running.splice(0)) await process.kill('SIGTERM');
  }, 60_000);
});
