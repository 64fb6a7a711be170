/**
 * The MQTT broker killed with a backlog: Mosquitto holds QoS 1 messages it has acknowledged to
 * devices (PUBACK) while ingest-mqtt is away. Killed with SIGKILL and restarted, it must still
 * deliver every one of them — with the shipped mosquitto.conf's persistence settings, which save
 * the queue every second (the default, 30 minutes, lost 3,800 of 6,800 acknowledged messages).
 * What it acknowledged in the last second before the kill is the window the README states; the
 * test kills it after that second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createRedis } from 'core';
import {
  type MosquittoServer,
  type RedisServer,
  startMosquitto,
  startRedisServer,
  startService,
  streamReadings,
  uniqueName,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import mqtt from 'mqtt';

const ENTRY = join(import.meta.dir, '..', 'ingest-mqtt', 'src', 'index.ts');
const MESSAGES = 5_000;
let broker: MosquittoServer;
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  [broker, redisServer] = await Promise.all([startMosquitto({ persistent: true }), startRedisServer()]);
  redis = createRedis(redisServer.url, { name: 'faults-broker' });
});
afterAll(async () => {
  redis?.disconnect();
  await Promise.all([broker?.stop(), redisServer?.stop()]);
});

describe('fault: the MQTT broker', () => {
  it('kill -9 with a backlog of acknowledged messages: every one reaches the stream after its restart', async () => {
    const stream = uniqueName('readings');
    const clientId = uniqueName('ingest').slice(0, 60);
    const start = () =>
      startService(ENTRY, {
        REDIS_URL: redisServer.url,
        MQTT_URL: broker.url,
        MQTT_CLIENT_ID: clientId,
        READINGS_STREAM: stream,
        HEARTBEAT_INTERVAL_MS: '200',
      });
    // Its persistent session is made, then it goes away: what devices send now waits at the broker.
    let worker = start();
    await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
    await worker.kill('SIGKILL');

    const device = await mqtt.connectAsync(broker.url, { clientId: uniqueName('device').slice(0, 60) });
    const acknowledged: string[] = [];
    const base = Date.now() - MESSAGES;
    for (let i = 0; i < MESSAGES; i += 100) {
      const sends = Array.from({ length: 100 }, (_, k) => {
        const id = `r-${String(i + k).padStart(6, '0')}`;
        // publishAsync resolves on the broker's PUBACK: from then on the reading is the broker's to keep.
        return device
          .publishAsync(
            `telemetry/pump-${(i + k) % 20}`,
            JSON.stringify({ id, metric: 'kwh', value: i + k, unit: 'kWh', ts: base + i + k }),
            { qos: 1 },
          )
          .then(() => acknowledged.push(id));
      });
      await Promise.all(sends);
    }
    await device.endAsync();
    expect(acknowledged).toHaveLength(MESSAGES);

    // Past the autosave interval (1 s), then the broker dies as a crash or power cut would kill it.
    await Bun.sleep(2_500);
    await broker.kill('SIGKILL');
    await broker.restart();
    worker = start();
    try {
      const stored = await waitFor(
        async () => {
          const ids = new Set((await streamReadings(redis, stream)).map((reading) => reading.id));
          return ids.size >= MESSAGES && ids;
        },
        { what: `${MESSAGES} readings in the stream (the broker kept its session and queue)`, timeoutMs: 60_000 },
      );
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await worker.kill('SIGTERM');
    }
  }, 120_000);
});
