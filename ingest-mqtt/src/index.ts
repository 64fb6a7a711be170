import {
  configOrExit,
  createLogger,
  createRedis,
  onShutdown,
  prepareKeysOrExit,
  readingStreamsOf,
  redisTargetOrExit,
  startHeartbeat,
} from 'core';
import mqtt from 'mqtt';
import { loadMqttConfig } from './config.ts';
import { ingestMessages } from './ingest.ts';

const config = await configOrExit('ingest-mqtt', () => loadMqttConfig(process.env));
const logger = createLogger({ service: 'ingest-mqtt', level: config.logLevel });
// REDIS_URL, or the primary through REDIS_SENTINELS (checked now: a bad list stops the start).
const redisTarget = await redisTargetOrExit('ingest-mqtt', config);
// Fail fast, no offline queue: a message waits in the worker's own retry loop, unacknowledged,
// and the log says so, instead of piling up in a client queue.
const redis = createRedis(redisTarget, {
  keyPrefix: config.keyPrefix,
  name: 'ingest-mqtt',
  logger,
  failFast: true,
  commandTimeoutMs: 5_000,
});
// Keys written by an earlier version renamed before any is written (key-layout.ts).
await prepareKeysOrExit(redis, config, logger);
const broker = new URL(config.mqttUrl);
const brokerName = `${broker.protocol}//${broker.host}`;

// clean: false keeps the session at the broker across restarts: the subscription, and the QoS 1
// messages that came while this worker was away or were delivered but not yet acknowledged.
const client = mqtt.connect(config.mqttUrl, {
  clientId: config.mqttClientId,
  clean: false,
  reconnectPeriod: 1_000,
  connectTimeout: 10_000,
  ...(config.mqttUsername ? { username: config.mqttUsername, password: config.mqttPassword } : {}),
});
const ingest = ingestMessages({
  client,
  redis,
  stream: config.readingsStream,
  streams: readingStreamsOf(config),
  clientId: config.mqttClientId,
  maxPayloadBytes: config.maxPayloadBytes,
  logger,
  frameReadings: config.frameReadings,
});

let connected = false;
client.on('connect', (connack) => {
  connected = true;
  logger.info('mqtt_connected', {
    broker: brokerName,
    clientId: config.mqttClientId,
    sessionPresent: connack.sessionPresent,
  });
  client.subscribe(config.mqttTopic, { qos: 1 }, (error, granted) => {
    if (error) logger.error('mqtt_subscribe_failed', { topic: config.mqttTopic, error });
    else if (granted?.some((grant) => grant.qos > 2))
      logger.error('mqtt_subscribe_refused', {
        topic: config.mqttTopic,
        hint: 'the broker refused the topic filter (its ACL?)',
      });
    else logger.info('subscribed', { topic: config.mqttTopic, qos: granted?.[0]?.qos });
  });
});
client.on('close', () => {
  if (connected)
    logger.warn('mqtt_disconnected', {
      broker: brokerName,
      hint: 'reconnecting; unacknowledged messages stay with the broker',
    });
  connected = false;
});
let lastError = '';
client.on('error', (error) => {
  // Repeated failures while the broker is away are logged once.
  if (error.message === lastError) return;
  lastError = error.message;
  logger.warn('mqtt_error', { broker: brokerName, error: error.message });
});

const heartbeat = startHeartbeat({
  redis,
  intervalMs: config.heartbeatIntervalMs,
  file: config.heartbeatFile,
  service: 'ingest-mqtt',
  instance: config.mqttClientId,
  counters: () => ({ ...ingest.counters }),
  problem: () => (connected ? ingest.problem() : 'is not connected to its MQTT broker'),
  info: () => ({ topic: config.mqttTopic }),
  logger,
});

onShutdown(
  logger,
  async () => {
    await ingest.stop();
    // Not forced: the last PUBACK is flushed (a broker that is away gets 2 s).
    await Promise.race([client.endAsync(false), Bun.sleep(2_000)]);
    await heartbeat.stop();
    logger.info('stopped', { ...ingest.counters });
    redis.disconnect();
  },
  config.shutdownTimeoutMs,
);
