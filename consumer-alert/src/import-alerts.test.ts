/**
 * No paging on the past, through the whole pipeline: the API (imports), consumer-alert (a webhook
 * to a receiver of the test's own) and consumer-store (the alert history) as processes on a Redis
 * and SQLite of the test's own. A 2-day-old import over the threshold sends nothing and is in
 * `GET /alerts` as quiet; `?alerts=notify` sends it all the same, `?alerts=record` keeps even a
 * fresh one quiet, `?alerts=skip` evaluates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertAckField, alertKeys, alertStreamOf, createRedis } from 'core';
import { type RedisServer, type ServiceProcess, freePort, startRedisServer, startService, waitFor } from 'core/testing';
import { startReceiver } from './test-receiver.ts';

const root = join(import.meta.dir, '../..');
const TOKEN = 'import-alerts-token';
const DAY_MS = 86_400_000;
/** `bun run test` runs this suite with the readings (and alerts) in 1 and in 4 partitions. */
const partitions = Number(process.env.TEST_STREAM_PARTITIONS ?? '1');

let redis: RedisServer;
let dir: string;
let api: string;
let receiver: ReturnType<typeof startReceiver>;
const services: ServiceProcess[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
  dir = await mkdtemp(join(tmpdir(), 'import-alerts-'));
  receiver = startReceiver();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: redis.url,
    API_URL: api,
    API_TOKEN: TOKEN,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: join(dir, 'telemetry.db'),
    IMPORT_DIR: join(dir, 'imports'),
    ALERT_WEBHOOK_URL: receiver.url,
    // The receiver is on loopback, which webhooks refuse unless told.
    ALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    ALERT_WEBHOOK_MIN_INTERVAL_MS: '0',
    ALERT_THRESHOLD: '50',
    // `bun run test` runs this suite with the readings in 1 and in 4 partitions.
    ...(process.env.TEST_STREAM_PARTITIONS ? { STREAM_PARTITIONS: process.env.TEST_STREAM_PARTITIONS } : {}),
  };
  services.push(startService(join(root, 'api/src/index.ts'), env));
  await waitFor(
    () =>
      fetch(`${api}/health`).then(
        (r) => r.status < 500,
        () => false,
      ),
    { what: 'API' },
  );
  services.push(startService(join(root, 'consumer-store/src/index.ts'), env));
  services.push(startService(join(root, 'consumer-alert/src/index.ts'), env));
});
afterAll(async () => {
  for (const service of services) await service.kill('SIGTERM');
  receiver?.stop();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Imports one device's readings: over the threshold, then back under it (two transitions). */
async function importReadings(device: string, ts: number, query = ''): Promise<void> {
  const file = [80, 20]
    .map((value, i) => JSON.stringify({ deviceId: device, metric: 'temp', value, unit: '°C', ts: ts + i * 1_000 }))
    .join('\n');
  const response = await fetch(`${api}/imports${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
    body: `${file}\n`,
  });
  expect(response.status).toBe(202);
  const { id } = (await response.json()) as { id: string };
  await waitFor(
    async () => ((await (await fetch(`${api}/imports/${id}`)).json()) as { state: string }).state === 'done',
    { what: `import ${id} done` },
  );
}

/** The device's alerts in the history, once both readings are stored and evaluated. */
async function history(device: string, transitions: number) {
  return waitFor(
    async () => {
      const page = (await (await fetch(`${api}/alerts?deviceId=${device}`)).json()) as {
        alerts: Array<{ id: string; state: string; quiet: boolean; note: string | null }>;
      };
      return page.alerts.length === transitions && page.alerts;
    },
    { what: `${transitions} alerts of ${device} in the history` },
  ).catch((error: Error) => {
    // What the services said, for the account of a run that never got there.
    throw new Error(`${error.message}\n${services.map((service) => service.output().slice(-1_500)).join('\n')}`);
  });
}

const sentFor = (ids: readonly string[]) => receiver.delivered().filter((id) => ids.includes(id));

describe('alerts on imported readings', () => {
  it('a 2-day-old import over the threshold sends nothing, and is in GET /alerts as quiet, saying why', async () => {
    await importReadings('old-pump', Date.now() - 2 * DAY_MS);
    const alerts = await history('old-pump', 2);
    expect(alerts.map((a) => [a.state, a.quiet])).toEqual([
      ['resolved', true],
      ['firing', true],
    ]);
    expect(alerts[1]?.note).toStartWith('from the past: taken 2880 min before it arrived');
    // A fresh reading's alert is sent after them: the notifier has been past them since.
    await importReadings('fresh-pump', Date.now());
    const fresh = await history('fresh-pump', 2);
    await waitFor(() => sentFor(fresh.map((a) => a.id)).length === 2, { what: 'the fresh alerts sent' });
    expect(sentFor(alerts.map((a) => a.id))).toEqual([]);
    // Acknowledged through the API: in the history, and where the evaluator reads it.
    const ack = await fetch(`${api}/alerts/${alerts[1]?.id}/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ author: 'ops', note: 'old news' }),
    });
    expect(((await ack.json()) as { ackedBy: string }).ackedBy).toBe('ops');
    const client = createRedis(redis.url, { name: 'import-alerts-test' });
    expect(
      JSON.parse(
        (await client.hget(
          alertKeys(client, alertStreamOf('alerts', partitions, 'old-pump')).acks,
          alertAckField('default', 'old-pump'),
        )) ?? '{}',
      ),
    ).toMatchObject({
      alertId: alerts[1]?.id,
      author: 'ops',
    });
    client.disconnect();
  }, 30_000);

  it('?alerts=notify sends an old import’s alerts, ?alerts=record keeps a fresh one’s quiet, ?alerts=skip evaluates nothing', async () => {
    await importReadings('notify-pump', Date.now() - 2 * DAY_MS, '?alerts=notify');
    const notified = await history('notify-pump', 2);
    expect(notified.map((a) => a.quiet)).toEqual([false, false]);
    await waitFor(() => sentFor(notified.map((a) => a.id)).length === 2, { what: 'the notify import’s alerts sent' });

    await importReadings('record-pump', Date.now(), '?alerts=record');
    const recorded = await history('record-pump', 2);
    expect(recorded.map((a) => [a.quiet, a.note])).toEqual([
      [true, 'imported with alerts=record: recorded, not sent'],
      [true, 'imported with alerts=record: recorded, not sent'],
    ]);

    await importReadings('skip-pump', Date.now(), '?alerts=skip');
    // Stored, and evaluated by nobody: a fresh import after it raises its alerts, this one none.
    await importReadings('after-skip', Date.now());
    await history('after-skip', 2);
    const skipped = (await (await fetch(`${api}/alerts?deviceId=skip-pump`)).json()) as { alerts: unknown[] };
    expect(skipped.alerts).toEqual([]);
    const stored = (await (await fetch(`${api}/readings?deviceId=skip-pump`)).json()) as { readings: unknown[] };
    expect(stored.readings.length).toBe(2);
    expect(sentFor(recorded.map((a) => a.id))).toEqual([]);
  }, 60_000);

  it('refuses an alerts mode it does not know, naming the parameter', async () => {
    const response = await fetch(`${api}/imports?alerts=sometimes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: '{"deviceId":"x","metric":"temp","value":1,"unit":"C","ts":1}\n',
    });
    expect(response.status).toBe(422);
    expect(JSON.stringify(await response.json())).toContain('alerts must be one of notify, record, skip');
  });
});
