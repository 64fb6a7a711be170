import { type Logger, type Reading, backoffMs, publishReadings } from 'core';
import type Redis from 'ioredis';
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import { deadLetterRefusals } from './dead-letters.ts';
import { type Refusal, readingsOf } from './payload.ts';

export interface IngestCounters {
  messages: number;
  published: number;
  refused: number;
}

/** Bad messages logged one by one before only the counter goes on (a broken fleet must not flood the log). */
const LOGGED_REFUSALS = 100;
/**
 * Messages (and their bytes) taken but not yet in Redis, at most; past either the next one waits.
 * QoS 1 is bounded by the broker's in-flight window already; QoS 0 has none.
 */
const MAX_WAITING_MESSAGES = 10_000;
const MAX_WAITING_BYTES = 64 * 1024 * 1024;
/** Readings per batch into Redis, at most (each XADD script call is atomic). */
const BATCH_READINGS = 1_000;

interface Taken {
  packet: IPublishPacket;
  /** The connection it came on: a PUBACK goes out on that one only. */
  connection: unknown;
  /** The PUBACK mqtt.js wanted to send for it, held until its readings are in Redis. */
  puback?: { packet: Packet; send: (packet: Packet) => void };
}

type SendPacket = (packet: Packet, cb?: (error?: Error) => void, ...rest: unknown[]) => void;

/**
 * Moves messages into the stream, acknowledging each QoS 1 message (PUBACK) only once Redis has
 * its readings and its refusals are in the dead letters — in the order the messages came, as
 * MQTT requires. mqtt.js hands over the next message only once handleMessage has called back and
 * sends the PUBACK right then, which would allow one message per Redis round trip; so
 * handleMessage calls back at once, the PUBACK it triggers is held here, and messages are
 * written in batches (as many as the broker has in flight), their PUBACKs released after.
 * While Redis is away nothing is acknowledged and the batch is retried; a crash at any point
 * means a redelivery by the broker (same ids, stored once), never a loss.
 */
export function ingestMessages(options: { client: MqttClient; redis: Redis; stream: string; clientId: string; maxPayloadBytes: number; logger: Logger; frameReadings?: number }) {
  const { client, redis, stream, clientId, maxPayloadBytes, logger, frameReadings } = options;
  const counters: IngestCounters = { messages: 0, published: 0, refused: 0 };
  let stopping = false;
  const waiting: Taken[] = [];
  let waitingBytes = 0;
  /** Held PUBACKs by message id, until their message is written. */
  const held = new Map<number, Taken>();
  /** A handleMessage call-back deferred while too many messages wait. */
  let deferred: (() => void) | undefined;
  let wake: (() => void) | undefined;

  // mqtt.js 5.16 (pinned) sends every packet through _sendPacket; its PUBACKs for our messages wait here.
  const internals = client as unknown as { _sendPacket: SendPacket };
  const sendPacket = internals._sendPacket.bind(client);
  internals._sendPacket = (packet, cb, ...rest) => {
    const taken = packet.cmd === 'puback' && packet.messageId !== undefined ? held.get(packet.messageId) : undefined;
    if (!taken) return sendPacket(packet, cb, ...rest);
    taken.puback = { packet, send: (ack) => sendPacket(ack) };
    // The packet pump goes on to the next message now; this PUBACK goes out once it is written.
    cb?.();
  };

  /** Runs `step` until it succeeds; false if the worker is stopping first. */
  const untilDone = async (what: string, step: () => Promise<unknown>): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        if (attempt > 0) logger.info('redis_write_recovered', { what, attempts: attempt + 1 });
        return true;
      } catch (error) {
        if (attempt === 0) logger.warn('redis_write_failed', { what, error, hint: 'retrying; the messages stay unacknowledged' });
        if (stopping) return false;
        await Bun.sleep(backoffMs(attempt, 50, 2_000));
      }
    }
  };

  /** Writes a batch of messages: readings into the stream, refusals into the dead letters. */
  const write = async (batch: readonly Taken[]): Promise<boolean> => {
    const readings: Reading[] = [];
    const refusals: Array<{ topic: string; payload: Uint8Array; refused: Refusal[] }> = [];
    for (const { packet } of batch) {
      const payload = typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : new Uint8Array(packet.payload);
      const outcome =
        payload.byteLength > maxPayloadBytes
          ? { readings: [], refused: [{ index: -1, reason: `payload is ${payload.byteLength} bytes; at most ${maxPayloadBytes} (MQTT_MAX_PAYLOAD_BYTES)` }] }
          : readingsOf(packet.topic, payload);
      readings.push(...outcome.readings);
      if (outcome.refused.length > 0) refusals.push({ topic: packet.topic, payload, refused: outcome.refused });
    }
    // In message order, chunk by chunk: each chunk is all in the stream or not at all.
    for (let i = 0; i < readings.length; i += BATCH_READINGS) {
      const chunk = readings.slice(i, i + BATCH_READINGS);
      if (!(await untilDone('readings', () => publishReadings(redis, stream, chunk, frameReadings)))) return false;
    }
    for (const { topic, payload, refused } of refusals) {
      if (!(await untilDone('dead letters', () => deadLetterRefusals(redis, { stream, clientId, topic, payload }, refused)))) return false;
      counters.refused += refused.length;
      if (counters.refused <= LOGGED_REFUSALS) logger.warn('reading_refused', { topic, refused: refused.slice(0, 5), ...(counters.refused >= LOGGED_REFUSALS ? { note: 'further refusals are counted, not logged' } : {}) });
    }
    counters.messages += batch.length;
    counters.published += readings.length;
    return true;
  };

  const run = async () => {
    while (!stopping) {
      if (waiting.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const batch = waiting.splice(0, waiting.length);
      waitingBytes = 0;
      if (!(await write(batch))) return;
      // Acknowledged in the order the messages came, on the connection they came on: after a
      // reconnect the broker delivers them again there, and an old id may already be reused.
      for (const taken of batch) {
        if (taken.packet.messageId !== undefined) held.delete(taken.packet.messageId);
        if (taken.puback && client.stream === taken.connection) taken.puback.send(taken.puback.packet);
      }
      const resume = deferred;
      deferred = undefined;
      resume?.();
    }
  };
  // A fault that is not Redis being away (a bug): stop the process rather than sit connected and
  // idle; nothing held was acknowledged, so the broker delivers it again to the restarted worker.
  const loop = run().catch((error) => {
    logger.error('ingest_failed', { error });
    process.exit(1);
  });

  client.handleMessage = (packet, callback) => {
    const taken: Taken = { packet, connection: client.stream };
    if (packet.qos > 0 && packet.messageId !== undefined) held.set(packet.messageId, taken);
    waiting.push(taken);
    waitingBytes += packet.payload.length;
    wake?.();
    if (waiting.length < MAX_WAITING_MESSAGES && waitingBytes < MAX_WAITING_BYTES) callback();
    else deferred = () => callback();
  };

  return {
    counters,
    /** Stops retrying and waits for the batch in hand (its PUBACKs go out if it got through). */
    async stop(): Promise<void> {
      stopping = true;
      wake?.();
      await loop;
    },
  };
}
