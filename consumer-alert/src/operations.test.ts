/**
 * Running alerting as an operator does, on real processes (Redis, the API on SQLite,
 * consumer-store, consumer-alert, a webhook receiver): rules changed over the API and applied
 * without a restart, a removed rule resolving its firing devices, silences, flapping, and the
 * alert history holding every transition with what was held back marked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, newEventId, publishReadings, readingStreams } from 'core';
import {
  type RedisServer,
  type ServiceProcess,
  freePort,
  redisUpFor,
  startRedisServer,
  startService,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import { startReceiver } from './test-receiver.ts';

const TOKEN = 'operations-token';
/** The readings stream's partitions (`bun run test` runs this suite with 1 and with 4). */
const PARTITIONS = Number(process.env.TEST_STREAM_PARTITIONS ?? '1');
const readings = readingStreams('readings', PARTITIONS);
const root = join(import.meta.dir, '../..');
let server: RedisServer;
let redis: Redis;
let dir: string;
let base: string;
let receiver: ReturnType<typeof startReceiver>;
const services: ServiceProcess[] = [];

interface HistoryAlert {
  id: string;
  ruleId: string;
  deviceId: string;
  state: string;
  value: number;
  threshold: number;
  note: string | null;
  silenced: boolean;
  quiet: boolean;
}

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'operations-test' });
  dir = await mkdtemp(join(tmpdir(), 'alert-operations-'));
  receiver = startReceiver();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: server.url,
    API_URL: base,
    API_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
    HEARTBEAT_INTERVAL_MS: '300',
    ...(PARTITIONS > 1 ? { STREAM_PARTITIONS: String(PARTITIONS) } : {}),
  };
  services.push(
    startService(join(root, 'api/src/index.ts'), {
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'operations.db'),
    }),
  );
  await waitFor(
    () =>
      fetch(`${base}/health`).then(
        () => true,
        () => false,
      ),
    { what: 'API' },
  );
  services.push(startService(join(root, 'consumer-store/src/index.ts'), env));
  services.push(
    startService(join(root, 'consumer-alert/src/index.ts'), {
      ...env,
      ALERT_THRESHOLD: '50',
      ALERT_WEBHOOK_URL: receiver.url,
      ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
      ALERT_WEBHOOK_MIN_INTERVAL_MS: '0',
      ALERT_RULES_POLL_MS: '100',
    }),
  );
  await waitFor(async () => (await api('GET', '/rules')).status === 200, { what: 'the rules seeded' });
});
afterAll(async () => {
  for (const service of services) await service.kill('SIGTERM');
  receiver?.stop();
  redis?.disconnect();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/**
 * Publishes readings of one device, in order, an entry each, to its partition (as the doors do);
 * `ts` in the past makes the order the test's own.
 */
async function publish(
  deviceId: string,
  values: number[],
  options: { metric?: string; ts?: (index: number) => number } = {},
) {
  const batch = values.map((value, index) => ({
    id: newEventId(),
    deviceId,
    metric: options.metric ?? 'temp',
    value,
    unit: 'C',
    ts: options.ts?.(index) ?? Date.now(),
  }));
  await publishReadings(redis, readings, batch, 1);
}

/** The alert history of a device, oldest first. */
async function history(deviceId: string): Promise<HistoryAlert[]> {
  const page = (await (await api('GET', `/alerts?deviceId=${deviceId}&limit=1000`)).json()) as {
    alerts: HistoryAlert[];
  };
  return page.alerts.reverse();
}

const deliveredFor = (deviceId: string, all: readonly HistoryAlert[]) => {
  const delivered = new Set(receiver.delivered());
  return all.filter((alert) => alert.deviceId === deviceId && delivered.has(alert.id));
};

/** Replaces the rules and waits until consumer-alert reports evaluating by that version. */
async function putRules(rules: unknown[]) {
  const response = await api('PUT', '/rules', rules);
  expect(response.status).toBe(200);
  const { version } = (await response.json()) as { version: number };
  await waitFor(
    async () => {
      const health = (await (await api('GET', '/health')).json()) as {
        workers?: Array<{ service: string; info?: { rulesVersion?: number } }>;
      };
      return health.workers?.some(
        (worker) => worker.service === 'consumer-alert' && worker.info?.rulesVersion === version,
      );
    },
    { what: `consumer-alert on rules version ${version}` },
  );
  return version;
}

describe(`alerting operations${PARTITIONS > 1 ? ` (the readings in ${PARTITIONS} partitions)` : ''}`, () => {
  it('serves the seeded rules; PUT checks them as the file is, compare-and-set by version', async () => {
    const seeded = await api('GET', '/rules');
    const body = (await seeded.json()) as { version: number; rules: unknown[]; source: string };
    expect(body).toMatchObject({ version: 1, rules: [{ id: 'default', threshold: 50 }], source: 'ALERT_THRESHOLD' });
    expect(seeded.headers.get('etag')).toBe('"1"');
    const invalid = await api('PUT', '/rules', [
      { id: 'ok', threshold: 1 },
      { id: 'bad', threshold: 'high' },
      { id: 'ok', threshold: 2 },
    ]);
    expect(invalid.status).toBe(422);
    const problems = ((await invalid.json()) as { details: Array<{ path: string }> }).details.map(
      (detail) => detail.path,
    );
    expect(problems).toEqual(['rules[1] (bad)', 'rules[2] (ok)']);
    expect((await api('PUT', '/rules', [{ id: 'x', threshold: 1 }], { 'if-match': '"7"' })).status).toBe(412);
    expect((await api('PUT', '/rules', { rules: [] })).status).toBe(422);
    expect((await api('PUT', '/rules', [{ id: 'x', threshold: 1 }])).status).toBe(200);
    // Back to one rule for what follows.
    expect((await api('PUT', '/rules', [{ id: 'default', threshold: 50 }], { 'if-match': '"2"' })).status).toBe(200);
  });

  it('applies new rules without a restart, and resolves devices firing on a rule removed or renamed', async () => {
    await putRules([{ id: 'hot', metric: 'temp', threshold: 80, severity: 'critical' }]);
    await publish('boiler-1', [70, 85]);
    await waitFor(async () => (await history('boiler-1')).length === 1, { what: 'boiler-1 firing on hot' });
    expect((await history('boiler-1'))[0]).toMatchObject({
      ruleId: 'hot',
      state: 'firing',
      value: 85,
      threshold: 80,
      note: null,
    });
    // Renamed: "hot" is gone, so boiler-1 resolves on it (with a note); "heat" starts from nothing.
    await putRules([{ id: 'heat', metric: 'temp', threshold: 80, severity: 'critical' }]);
    await waitFor(async () => (await history('boiler-1')).length === 2, {
      what: 'boiler-1 resolved on the removed rule',
    });
    const [, retired] = await history('boiler-1');
    expect(retired).toMatchObject({
      ruleId: 'hot',
      state: 'resolved',
      value: 85,
      note: expect.stringContaining('rule hot was removed'),
    });
    await publish('boiler-1', [90]);
    await waitFor(async () => (await history('boiler-1')).length === 3, { what: 'boiler-1 firing on heat' });
    expect((await history('boiler-1'))[2]).toMatchObject({ ruleId: 'heat', state: 'firing', value: 90 });
    // All three sent: the removal's resolution too.
    await waitFor(async () => deliveredFor('boiler-1', await history('boiler-1')).length === 3, {
      what: 'boiler-1 sent',
    });
  });

  it('silences: recorded and marked, not sent; when the silence ends a device still firing is sent once', async () => {
    await putRules([{ id: 'default', threshold: 50 }]);
    const created = await api('POST', '/silences', {
      device: 'quiet-*',
      until: new Date(Date.now() + 3_600_000).toISOString(),
      reason: 'maintenance',
      author: 'ops',
    });
    expect(created.status).toBe(201);
    const silence = (await created.json()) as { id: string; state: string };
    expect(silence.state).toBe('active');
    expect(
      ((await (await api('GET', '/silences?state=active')).json()) as { silences: Array<{ id: string }> }).silences.map(
        (s) => s.id,
      ),
    ).toEqual([silence.id]);
    await publish('quiet-1', [60]);
    await publish('loud-1', [60]);
    await waitFor(async () => deliveredFor('loud-1', await history('loud-1')).length === 1, { what: 'loud-1 sent' });
    await waitFor(async () => (await history('quiet-1')).length === 1, { what: 'quiet-1 recorded' });
    const [held] = await history('quiet-1');
    expect(held).toMatchObject({ state: 'firing', silenced: true });
    expect(deliveredFor('quiet-1', await history('quiet-1'))).toEqual([]);
    // Ended early: quiet-1 still fires, so it is notified once, after the silence.
    const ended = await api('DELETE', `/silences/${silence.id}`);
    expect(((await ended.json()) as { state: string }).state).toBe('ended');
    await waitFor(async () => deliveredFor('quiet-1', await history('quiet-1')).length === 1, {
      what: 'quiet-1 reminded',
    });
    const after = await history('quiet-1');
    expect(after).toHaveLength(2);
    expect(after[1]).toMatchObject({
      state: 'firing',
      silenced: false,
      note: `still firing after silence ${silence.id} ended`,
    });
    // Once only, however long the follow-up loop keeps running.
    await Bun.sleep(500);
    expect(await history('quiet-1')).toHaveLength(2);
    expect((await api('DELETE', '/silences/nope')).status).toBe(404);
    expect(
      (await api('POST', '/silences', { until: new Date(Date.now() - 1_000).toISOString(), reason: 'r', author: 'a' }))
        .status,
    ).toBe(422);
  });

  it('flapping: one notice past the bound, transitions recorded quiet, one notice once stable', async () => {
    await putRules([{ id: 'default', threshold: 50, flapping: { transitions: 4, withinMs: 2_000 } }]);
    // Reading times in the past: the flapping window is measured on them, not on this test's pace.
    const start = Date.now() - 60_000;
    await publish('flappy-1', [60, 40, 60, 40, 60, 40, 60, 40, 60, 40], { ts: (i) => start + i * 100 });
    await waitFor(async () => (await history('flappy-1')).length === 10, { what: 'ten transitions recorded' });
    const flapping = await history('flappy-1');
    expect(flapping.map((alert) => alert.quiet)).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(flapping[3]?.note).toContain('flapping: 4 transitions within 2 s');
    // Stable for the window (a reading 3 s after the last transition, no transition): one notice.
    await publish('flappy-1', [45], { ts: () => start + 900 + 3_000 });
    await waitFor(async () => (await history('flappy-1')).length === 11, { what: 'the stable notice' });
    const notice = (await history('flappy-1'))[10];
    expect(notice).toMatchObject({ state: 'resolved', quiet: false, value: 45, note: 'stable for 2 s after flapping' });
    await waitFor(async () => deliveredFor('flappy-1', await history('flappy-1')).length === 5, { what: 'five sent' });
    expect(deliveredFor('flappy-1', await history('flappy-1')).map((alert) => alert.id)).toEqual(
      [...flapping.slice(0, 4), notice].map((alert) => alert?.id as string),
    );
  });

  it('devices: each listed with first and last seen and its metrics’ newest readings, silent or firing; pages, filters; DELETE forgets one and resolves its silence', async () => {
    await redisUpFor(redis, 3);
    await putRules([
      { id: 'hot', threshold: 50 },
      { kind: 'absence', id: 'quiet', device: 'dev-quiet-*', silentForMs: 1_000 },
    ]);
    const start = Date.now() - 10_000;
    await publish('dev-a', [20, 60], { ts: (i) => start + i * 1_000 });
    await publish('dev-a', [5], { metric: 'kwh', ts: () => start + 500 });
    await publish('dev-quiet-1', [10], { ts: () => start });
    type Device = { deviceId: string; firstSeen: string; lastSeen: string; status: string; silentBy: string[] };
    const list = async (query: string) =>
      (await (await api('GET', `/devices?${query}`)).json()) as { devices: Device[]; nextCursor: string | null };
    await waitFor(
      async () => (await list('device=dev-*')).devices.find((d) => d.deviceId === 'dev-quiet-1')?.silentBy.length === 1,
      {
        what: 'dev-quiet-1 listed and called silent',
      },
    );
    const { devices } = await list('device=dev-*');
    expect(devices.map((d) => [d.deviceId, d.firstSeen, d.lastSeen, d.status, d.silentBy])).toEqual([
      ['dev-a', new Date(start).toISOString(), new Date(start + 1_000).toISOString(), 'online', []],
      ['dev-quiet-1', new Date(start).toISOString(), new Date(start).toISOString(), 'offline', ['quiet']],
    ]);
    expect((await list('device=dev-*&status=offline')).devices.map((d) => d.deviceId)).toEqual(['dev-quiet-1']);
    expect((await list('device=dev-*&status=online')).devices.map((d) => d.deviceId)).toEqual(['dev-a']);
    // One a page: the cursor walks them in order, then ends.
    const first = await list('device=dev-*&limit=1');
    const second = await list(`device=dev-*&limit=1&cursor=${first.nextCursor}`);
    expect([...first.devices, ...second.devices].map((d) => d.deviceId)).toEqual(['dev-a', 'dev-quiet-1']);
    expect((await list(`device=dev-*&limit=1&cursor=${second.nextCursor}`)).nextCursor).toBeNull();

    await waitFor(async () => (await history('dev-a')).length === 1, { what: 'dev-a’s alert in the history' });
    const one = (await (await api('GET', '/devices/dev-a')).json()) as {
      metrics: Array<{ metric: string; value: number; ts: string }>;
      firing: Array<{ ruleId: string; value: number }>;
    };
    expect(one.metrics.map((m) => [m.metric, m.value, m.ts])).toEqual([
      ['kwh', 5, new Date(start + 500).toISOString()],
      ['temp', 60, new Date(start + 1_000).toISOString()],
    ]);
    expect(one.firing.map((alert) => [alert.ruleId, alert.value])).toEqual([['hot', 60]]);

    expect((await api('DELETE', '/devices/dev-quiet-1')).status).toBe(204);
    expect((await api('GET', '/devices/dev-quiet-1')).status).toBe(404);
    expect((await api('DELETE', '/devices/dev-quiet-1')).status).toBe(404);
    await waitFor(async () => (await history('dev-quiet-1')).length === 2, { what: 'the silence resolved' });
    expect((await history('dev-quiet-1')).map((alert) => [alert.state, alert.note])).toEqual([
      ['firing', 'silent: no reading from the device for 1 s'],
      ['resolved', 'device dev-quiet-1 was deleted'],
    ]);
    // Not watched any more: no sweep calls it silent again.
    await Bun.sleep(1_500);
    expect((await history('dev-quiet-1')).length).toBe(2);

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['status=maybe', 'status'],
      ['device=a[b', 'device'],
      ['offlineAfterMs=5', 'offlineAfterMs'],
    ]) {
      const refused = await api('GET', `/devices?${query}`);
      expect(refused.status).toBe(422);
      expect(await refused.text()).toContain(field as string);
    }
    expect((await api('GET', `/devices/${'x'.repeat(200)}`)).status).toBe(422);
    expect((await api('DELETE', '/devices/a%20b')).status).toBe(422);
  });
});
