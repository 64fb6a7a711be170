import { type Logger, backoffMs, publishReadings } from 'core';
import type Redis from 'ioredis';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { deadLetterRefusals } from './dead-letters.ts';
import { readingsOf } from './payload.ts';

export interface IngestCounters {
  messages: number;
  published: number;
  refused: number;
}

/** Bad messages logged one by one before only the counter goes on (a broken fleet must not flood the log). */
const LOGGED_REFUSALS = 100;

/**
 * Takes over the client's message handling so that a QoS 1 message is acknowledged (PUBACK) only
 * once Redis has its readings — and its refusals in the dead letters. mqtt.js sends the PUBACK
 * when handleMessage calls back, and hands over the next message only then, so acks go out in
 * order, as MQTT requires. While Redis is away the message is retried with backoff and nothing
 * is acknowledged: the broker keeps the rest for this session, so a crash at any point means a
 * redelivery (same ids, stored once), never a loss.
 */
export function ingestMessages(options: { client: MqttClient; redis: Redis; stream: string; clientId: string; maxPayloadBytes: number; logger: Logger }) {
  const { client, redis, stream, clientId, maxPayloadBytes, logger } = options;
  const counters: IngestCounters = { messages: 0, published: 0, refused: 0 };
  let stopping = false;
  let current: Promise<void> = Promise.resolve();

  /** Runs `step` until it succeeds; false if the worker is stopping first. */
  const untilDone = async (what: string, step: () => Promise<unknown>): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        if (attempt > 0) logger.info('redis_write_recovered', { what, attempts: attempt + 1 });
        return true;
      } catch (error) {
        if (attempt === 0) logger.warn('redis_write_failed', { what, error, hint: 'retrying; the message stays unacknowledged' });
        if (stopping) return false;
        await Bun.sleep(backoffMs(attempt, 50, 2_000));
      }
    }
  };

  const handle = async (packet: IPublishPacket): Promise<boolean> => {
    counters.messages += 1;
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : new Uint8Array(packet.payload);
    const { readings, refused } =
      payload.byteLength > maxPayloadBytes
        ? { readings: [], refused: [{ index: -1, reason: `payload is ${payload.byteLength} bytes; at most ${maxPayloadBytes} (MQTT_MAX_PAYLOAD_BYTES)` }] }
        : readingsOf(topic, payload);
    if (readings.length > 0 && !(await untilDone('readings', () => publishReadings(redis, stream, readings)))) return false;
    counters.published += readings.length;
    if (refused.length > 0) {
      if (!(await untilDone('dead letters', () => deadLetterRefusals(redis, { stream, clientId, topic, payload }, refused)))) return false;
      counters.refused += refused.length;
      if (counters.refused <= LOGGED_REFUSALS) logger.warn('reading_refused', { topic, refused: refused.slice(0, 5), ...(counters.refused === LOGGED_REFUSALS ? { note: 'further refusals are counted, not logged' } : {}) });
    }
    return true;
  };

  client.handleMessage = (packet, callback) => {
    // The connection it came on: if that one was lost meanwhile (a keepalive timeout while Redis
    // was away), the broker delivers the message again on the new one, and a late PUBACK here
    // could acknowledge another message that reused its id.
    const connection = client.stream;
    current = handle(packet).then(
      // Stopping with Redis away: no callback, so no PUBACK; the broker delivers it again later.
      (done) => {
        if (done && client.stream === connection) callback();
      },
      (error) => {
        logger.error('message_failed', { topic: packet.topic, error });
        callback(error as Error);
      },
    );
  };

  return {
    counters,
    /** Stops retrying and waits for the message in hand (its PUBACK goes out if it got through). */
    async stop(): Promise<void> {
      stopping = true;
      await current;
    },
  };
}
