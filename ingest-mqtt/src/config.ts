import { hostname } from 'node:os';
import { type Env, commonSettings, env, loadConfig } from 'core';

export const mqttSettings = {
  ...commonSettings,
  mqttUrl: env.url('MQTT_URL', 'mqtt://127.0.0.1:1883', ['mqtt:', 'mqtts:', 'ws:', 'wss:']),
  /** A topic filter; the device id is the topic's last level (`telemetry/pump-7`). */
  mqttTopic: env.string('MQTT_TOPIC', 'telemetry/+', { maxLength: 1_000 }),
  /**
   * The broker keeps this client's session (subscription and the QoS 1 messages not yet
   * acknowledged) across restarts only under the same id: stable per instance, unique across them.
   */
  mqttClientId: env.string('MQTT_CLIENT_ID', `telemetry-ingest-${hostname()}`, { maxLength: 23 * 4 }),
  mqttUsername: env.string('MQTT_USERNAME', undefined, { maxLength: 512 }),
  mqttPassword: env.string('MQTT_PASSWORD', undefined, { maxLength: 512 }),
  /** Largest payload taken; a larger one is dead-lettered (its first bytes kept). */
  maxPayloadBytes: env.int('MQTT_MAX_PAYLOAD_BYTES', 1_000_000, { min: 1_000, max: 100_000_000 }),
};

export type MqttConfig = ReturnType<typeof loadConfig<typeof mqttSettings>>;

/** @throws ConfigError naming every bad variable. */
export function loadMqttConfig(environment: Env): MqttConfig {
  const config = loadConfig(mqttSettings, environment);
  return config;
}
