import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createRedis, readDeadLetters, streamKeys } from 'core';
import {
  type MosquittoServer,
  type RedisServer,
  type ServiceProcess,
  startMosquitto,
  startRedisServer,
  startService,
  uniqueName,
  waitFor,
  streamReadings,
} from 'core/testing';
import type Redis from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';

const ENTRY = join(import.meta.dir, 'index.ts');
let broker: MosquittoServer;
let redisServer: RedisServer;
let redis: Redis;
let publisher: MqttClient;

beforeAll(async () => {
  [broker, redisServer] = await Promise.all([startMosquitto(), startRedisServer()]);
  redis = createRedis(redisServer.url, { name: 'ingest-mqtt-test' });
  publisher = await mqtt.connectAsync(broker.url, { clientId: uniqueName('publisher').slice(0, 60) });
});
afterAll(async () => {
  await publisher?.endAsync(true);
  redis?.disconnect();
  await Promise.all([broker?.stop(), redisServer?.stop()]);
});

/** The worker as its own process, reading `telemetry/+` into `stream`. */
function startWorker(stream: string, clientId: string): ServiceProcess {
  return startService(ENTRY, {
    REDIS_URL: redisServer.url,
    MQTT_URL: broker.url,
    MQTT_CLIENT_ID: clientId,
    READINGS_STREAM: stream,
    HEARTBEAT_INTERVAL_MS: '200',
  });
}

const readingsIn = (stream: string) => streamReadings(redis, stream);

describe('ingest-mqtt', () => {
  it('puts readings from MQTT into the stream (device from the topic), and each bad one in the dead letters with its topic and reason', async () => {
    const stream = uniqueName('mqtt-readings');
    const worker = startWorker(stream, uniqueName('ingest').slice(0, 60));
    try {
      await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
      const ts = new Date().toISOString();
      await publisher.publishAsync('telemetry/pump-7', JSON.stringify({ metric: 'kwh', value: 42, unit: 'kWh', ts }), {
        qos: 1,
      });
      await publisher.publishAsync(
        'telemetry/pump-8',
        JSON.stringify([
          { metric: 'kwh', value: 1, unit: 'kWh', ts },
          { metric: 'kwh', value: 2, unit: 'kWh', ts: Date.now() },
        ]),
        { qos: 1 },
      );
      await publisher.publishAsync('telemetry/pump-9', 'not json', { qos: 1 });
      await publisher.publishAsync(
        'telemetry/pump-10',
        JSON.stringify([
          { metric: 'kwh', value: 3, unit: 'kWh', ts },
          { metric: 'kwh', value: 'x', unit: 'kWh', ts },
        ]),
        { qos: 1 },
      );
      await publisher.publishAsync(
        'telemetry/pump-11',
        JSON.stringify({ deviceId: 'pump-7', metric: 'kwh', value: 4, unit: 'kWh', ts }),
        { qos: 1 },
      );
      await publisher.publishAsync(
        'telemetry/pump-12',
        JSON.stringify({ metric: 'kwh', value: 5, unit: 'kWh', ts: '2026-02-30T10:00:00Z' }),
        { qos: 1 },
      );

      const readings = await waitFor(
        async () => {
          const found = await readingsIn(stream);
          return found.length >= 4 && found;
        },
        { what: 'four readings in the stream' },
      );
      expect(readings.map((r) => [r.deviceId, r.value])).toEqual([
        ['pump-7', 42],
        ['pump-8', 1],
        ['pump-8', 2],
        ['pump-10', 3],
      ]);
      expect(readings[0]?.ts).toBe(Date.parse(ts));
      const letters = await waitFor(
        async () => {
          const found = await readDeadLetters(redis, streamKeys(redis, stream).dead);
          return found.length >= 4 && found;
        },
        { what: 'four dead letters' },
      );
      expect(letters.map((letter) => letter.reason)).toEqual([
        'the message on telemetry/pump-9: payload is not JSON',
        'reading 1 of the message on telemetry/pump-10: value expected number, got "x"',
        'reading 0 of the message on telemetry/pump-11: deviceId is "pump-7" but the topic names "pump-11"',
        'reading 0 of the message on telemetry/pump-12: ts must be an ISO-8601 date-time that exists (with its zone) or epoch milliseconds',
      ]);
      expect(letters[0]?.fields).toEqual(['topic', 'telemetry/pump-9', 'payload', 'not json']);
      expect(letters.every((letter) => letter.group === 'mqtt')).toBe(true);
    } finally {
      await worker.kill('SIGTERM');
    }
  });

  it('gives a reading without an id the same id when the same message comes again (a redelivery is stored once)', async () => {
    const stream = uniqueName('mqtt-redelivery');
    const worker = startWorker(stream, uniqueName('ingest').slice(0, 60));
    try {
      await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
      const payload = JSON.stringify({ metric: 'kwh', value: 7, unit: 'kWh', ts: Date.now() });
      await publisher.publishAsync('telemetry/meter-1', payload, { qos: 1 });
      await publisher.publishAsync('telemetry/meter-1', payload, { qos: 1 });
      await publisher.publishAsync('telemetry/meter-2', payload, { qos: 1 });
      const readings = await waitFor(
        async () => {
          const found = await readingsIn(stream);
          return found.length >= 3 && found;
        },
        { what: 'three readings' },
      );
      expect(readings[0]?.id).toBe(readings[1]?.id as string);
      expect(readings[2]?.id).not.toBe(readings[0]?.id as string);
    } finally {
      await worker.kill('SIGTERM');
    }
  });

  it('dates a reading without ts when its message first came (a device without a clock): the same message again is the same reading', async () => {
    const stream = uniqueName('mqtt-clockless');
    const worker = startWorker(stream, uniqueName('ingest').slice(0, 60));
    try {
      await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
      const before = Date.now();
      const payload = JSON.stringify({ metric: 'kwh', value: 7, unit: 'kWh' });
      await publisher.publishAsync('telemetry/clockless-1', payload, { qos: 1 });
      await Bun.sleep(20);
      await publisher.publishAsync('telemetry/clockless-1', payload, { qos: 1 });
      await publisher.publishAsync('telemetry/clockless-2', payload, { qos: 1 });
      const readings = await waitFor(
        async () => {
          const found = await readingsIn(stream);
          return found.length >= 3 && found;
        },
        { what: 'three readings' },
      );
      expect(readings[1]).toEqual(readings[0] as (typeof readings)[number]);
      expect(readings[0]?.ts).toBeGreaterThanOrEqual(before);
      expect(readings[2]?.deviceId).toBe('clockless-2');
      expect(readings[2]?.id).not.toBe(readings[0]?.id as string);
    } finally {
      await worker.kill('SIGTERM');
    }
  });

  it('loses nothing through kill -9 of the worker mid-run: every reading the broker took reaches the stream, under one id each', async () => {
    const stream = uniqueName('mqtt-kill');
    const clientId = uniqueName('ingest').slice(0, 60);
    let worker = startWorker(stream, clientId);
    await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
    const total = 20_000;
    const start = Date.now() - total;
    // Half carry their own id, half get one minted by the worker (the same on redelivery).
    const sent: Array<{ key: string; id?: string }> = [];
    const publishing = (async () => {
      for (let i = 0; i < total; i += 50) {
        const batch: Array<Promise<unknown>> = [];
        for (let j = i; j < i + 50; j++) {
          const device = `dev-${j % 20}`;
          const ts = start + j;
          const id = j % 2 === 0 ? `00000000-0000-7000-8000-${String(j).padStart(12, '0')}` : undefined;
          sent.push({ key: `${device}@${ts}`, ...(id ? { id } : {}) });
          batch.push(
            publisher.publishAsync(
              `telemetry/${device}`,
              JSON.stringify({ ...(id ? { id } : {}), metric: 'kwh', value: j % 100, unit: 'kWh', ts }),
              { qos: 1 },
            ),
          );
        }
        await Promise.all(batch);
      }
    })();
    try {
      // Kill it while messages flow, twice, and bring it back under the same client id.
      for (let round = 0; round < 2; round++) {
        await waitFor(async () => (await readingsIn(stream)).length > (round + 1) * 3_000, {
          what: 'readings flowing',
          timeoutMs: 30_000,
        });
        await worker.kill('SIGKILL');
        worker = startWorker(stream, clientId);
        // The broker kept the session: the new process goes on where the killed one stopped.
        await waitFor(() => worker.output().includes('"sessionPresent":true'), { what: 'the session kept' });
      }
      await publishing;
      const readings = await waitFor(
        async () => {
          const found = await readingsIn(stream);
          return new Set(found.map((r) => `${r.deviceId}@${r.ts}`)).size >= total && found;
        },
        { what: 'every reading in the stream', timeoutMs: 60_000 },
      );
      const idsByKey = new Map<string, Set<string>>();
      for (const reading of readings) {
        const key = `${reading.deviceId}@${reading.ts}`;
        idsByKey.set(key, (idsByKey.get(key) ?? new Set()).add(reading.id));
      }
      expect(idsByKey.size).toBe(total);
      // One id per reading however often it came: storage (idempotent by id) keeps it once.
      expect([...idsByKey.entries()].filter(([, ids]) => ids.size !== 1)).toEqual([]);
      for (const { key, id } of sent) if (id) expect([...(idsByKey.get(key) ?? [])]).toEqual([id]);
      expect(await redis.xlen(streamKeys(redis, stream).dead)).toBe(0);
    } finally {
      await worker.kill('SIGTERM');
    }
  }, 120_000);

  it('acknowledges nothing while Redis is away: killed then, the worker loses none of what the broker handed it', async () => {
    const stream = uniqueName('mqtt-redis-away');
    const clientId = uniqueName('ingest').slice(0, 60);
    let worker = startWorker(stream, clientId);
    await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
    await redisServer.kill('SIGKILL');
    try {
      const now = Date.now();
      for (let i = 0; i < 200; i++)
        await publisher.publishAsync(
          `telemetry/away-${i % 5}`,
          JSON.stringify({ metric: 'kwh', value: i, unit: 'kWh', ts: now - i }),
          { qos: 1 },
        );
      await waitFor(() => worker.output().includes('"redis_write_failed"'), { what: 'the worker holding a message' });
      await worker.kill('SIGKILL');
    } finally {
      await redisServer.restart();
    }
    worker = startWorker(stream, clientId);
    try {
      const readings = await waitFor(
        async () => {
          const found = await readingsIn(stream).catch(() => []);
          return new Set(found.map((r) => r.value)).size >= 200 && found;
        },
        { what: 'all 200 in the stream', timeoutMs: 30_000 },
      );
      expect(new Set(readings.map((r) => r.value)).size).toBe(200);
    } finally {
      await worker.kill('SIGTERM');
    }
  }, 60_000);
});
