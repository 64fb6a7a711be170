import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createRedis, readDeadLetters, streamKeys } from 'core';
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
import mqtt, { type MqttClient } from 'mqtt';

// Hostile MQTT messages: any client of an anonymous broker can send them. The nested one stopped
// all MQTT ingest for good (its dead letter re-serialized it and overflowed the stack; the loop
// took that for Redis being away and retried it for ever).
const ENTRY = join(import.meta.dir, '..', 'ingest-mqtt', 'src', 'index.ts');
let broker: MosquittoServer;
let redisServer: RedisServer;
let redis: Redis;
let publisher: MqttClient;

beforeAll(async () => {
  [broker, redisServer] = await Promise.all([startMosquitto(), startRedisServer()]);
  redis = createRedis(redisServer.url, { name: 'hostile-mqtt' });
  publisher = await mqtt.connectAsync(broker.url, { clientId: uniqueName('publisher').slice(0, 60) });
});
afterAll(async () => {
  await publisher?.endAsync(true);
  redis?.disconnect();
  await Promise.all([broker?.stop(), redisServer?.stop()]);
});

const HOSTILE_PAYLOADS: Record<string, string | Buffer> = {
  'nested arrays': '['.repeat(50_000),
  'nested arrays, closed': `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
  'nested objects in a reading': `[{"metric":"m","value":1,"unit":"u","ts":1764000000000,"x":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}]`,
  'not UTF-8': Buffer.from([0xff, 0xfe, 0xfd]),
  'an array of 5,001 readings': JSON.stringify(Array.from({ length: 5_001 }, () => ({}))),
  'a huge string': JSON.stringify({ metric: 'm', value: 1, unit: 'x'.repeat(90_000), ts: 1_764_000_000_000 }),
};

describe('hostile MQTT messages', () => {
  it('are dead-lettered with their text and never block the messages behind them, also after a restart', async () => {
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
    let worker = start();
    await waitFor(() => worker.output().includes('"subscribed"'), { what: 'subscribed' });
    // Stopped with its session kept: the hostile messages wait at the broker and come first on restart.
    await worker.kill('SIGKILL');
    for (const payload of Object.values(HOSTILE_PAYLOADS))
      await publisher.publishAsync('telemetry/evil-1', payload, { qos: 1 });
    for (let i = 0; i < 100; i++)
      await publisher.publishAsync(
        `telemetry/pump-${i % 10}`,
        JSON.stringify({ metric: 'kwh', value: i, unit: 'kWh', ts: 1_764_000_000_000 + i }),
        { qos: 1 },
      );
    worker = start();
    try {
      const stored = await waitFor(
        async () => {
          const found = await streamReadings(redis, stream);
          return found.length >= 100 && found;
        },
        { what: '100 good readings in the stream' },
      );
      expect(stored.map((reading) => reading.value)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      const letters = await waitFor(
        async () => {
          const found = await readDeadLetters(redis, streamKeys(redis, stream).dead);
          return found.length >= 6 && found;
        },
        { what: 'the hostile messages dead-lettered' },
      );
      expect(letters.map((letter) => letter.reason.replace(/^.*?: /, ''))).toEqual([
        'payload nests JSON deeper than 32 levels',
        'payload nests JSON deeper than 32 levels',
        'payload nests JSON deeper than 32 levels',
        'payload is not UTF-8',
        'payload holds 5001 readings; at most 5000',
        expect.stringContaining('unit'),
      ]);
      expect(letters[0]?.fields).toEqual(['topic', 'telemetry/evil-1', 'payload', '['.repeat(50_000)]);
    } finally {
      await worker.kill('SIGTERM');
    }
  });
});
