import {
  backoffMs,
  type DeadLetter,
  firstReceipt,
  isTransientRedisError,
  type Logger,
  publishReadings,
  type Reading,
  type ReadingStreams,
} from 'core';
import type Redis from 'ioredis';
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import { deadLetterRefusals, refusalLetters } from './dead-letters.ts';
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

/** A message as read: its readings, and the dead letters of what it refused. */
interface ReadMessage {
  topic: string;
  payload: Uint8Array;
  readings: Reading[];
  letters: DeadLetter[];
  refused: Refusal[];
  /** It holds a reading without `ts`: read it again with when it was first received. */
  undated?: boolean;
}

/** Redis failing this long (transiently) makes the worker report itself stuck in its heartbeat. */
const STUCK_AFTER_MS = 10_000;

/**
 * What a message holds. Never throws: whatever goes wrong reading it (a bug, a payload no check
 * foresaw) refuses that message alone, so it cannot block the ones behind it.
 */
export function readMessage(
  packet: Pick<IPublishPacket, 'topic' | 'payload'>,
  maxPayloadBytes: number,
  receivedAtMs?: number,
): ReadMessage {
  const payload =
    typeof packet.payload === 'string' ? new TextEncoder().encode(packet.payload) : new Uint8Array(packet.payload);
  const { topic } = packet;
  let outcome: { readings: Reading[]; refused: Refusal[]; undated?: boolean };
  try {
    outcome =
      payload.byteLength > maxPayloadBytes
        ? {
            readings: [],
            refused: [
              {
                index: -1,
                reason: `payload is ${payload.byteLength} bytes; at most ${maxPayloadBytes} (MQTT_MAX_PAYLOAD_BYTES)`,
              },
            ],
          }
        : readingsOf(topic, payload, Date.now(), receivedAtMs);
  } catch (error) {
    outcome = {
      readings: [],
      refused: [{ index: -1, reason: `payload could not be read: ${(error as Error).message}` }],
    };
  }
  return {
    topic,
    payload,
    readings: outcome.readings,
    refused: outcome.refused,
    letters: refusalLetters({ topic, payload, refused: outcome.refused }),
    ...(outcome.undated && receivedAtMs === undefined ? { undated: true } : {}),
  };
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
export function ingestMessages(options: {
  client: MqttClient;
  redis: Redis;
  /** The readings stream: refusals and receipts are kept beside it. */
  stream: string;
  /** Its partitions (STREAM_PARTITIONS), the readings' destinations: default the stream alone. */
  streams?: ReadingStreams;
  clientId: string;
  maxPayloadBytes: number;
  logger: Logger;
  frameReadings?: number;
}) {
  const { client, redis, stream, clientId, maxPayloadBytes, logger, frameReadings } = options;
  const streams = options.streams ?? stream;
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

  /** Since when Redis has been refusing writes (transiently), for the heartbeat's problem. */
  let failing: { sinceMs: number; error: string } | undefined;

  /**
   * Runs `step` until it succeeds, retrying what is transient (Redis away, out of memory);
   * 'stopping' if the worker stops first; the error if Redis refuses it for good.
   */
  const untilDone = async (what: string, step: () => Promise<unknown>): Promise<'done' | 'stopping' | Error> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        if (attempt > 0) logger.info('redis_write_recovered', { what, attempts: attempt + 1 });
        failing = undefined;
        return 'done';
      } catch (error) {
        if (!isTransientRedisError(error)) return error as Error;
        failing ??= { sinceMs: Date.now(), error: (error as Error).message };
        if (attempt === 0)
          logger.warn('redis_write_failed', { what, error, hint: 'retrying; the messages stay unacknowledged' });
        if (stopping) return 'stopping';
        await Bun.sleep(backoffMs(attempt, 50, 2_000));
      }
    }
  };

  /** Publishes readings in chunks, in order: each chunk is all in the stream or not at all. */
  const publish = async (readings: readonly Reading[]): Promise<'done' | 'stopping' | Error> => {
    for (let i = 0; i < readings.length; i += BATCH_READINGS) {
      const chunk = readings.slice(i, i + BATCH_READINGS);
      const outcome = await untilDone('readings', () => publishReadings(redis, streams, chunk, frameReadings));
      if (outcome !== 'done') return outcome;
    }
    return 'done';
  };

  /**
   * Writes a batch of messages: readings into the stream, refusals into the dead letters. If
   * Redis refuses the batch's readings for good, each message is tried alone and one that is
   * still refused is dead-lettered whole with Redis's reply: the others go on.
   */
  const write = async (batch: readonly Taken[]): Promise<boolean> => {
    const messages = await Promise.all(
      batch.map(async ({ packet }) => {
        const message = readMessage(packet, maxPayloadBytes);
        if (!message.undated) return message;
        // Readings without a time: dated when the message first came, the same for a redelivery.
        const body = Buffer.concat([Buffer.from(`${message.topic}\n`), message.payload]);
        return readMessage(
          packet,
          maxPayloadBytes,
          await firstReceipt(redis, { stream, door: 'mqtt' }, body, Date.now()),
        );
      }),
    );
    const published = await publish(messages.flatMap((message) => message.readings));
    if (published === 'stopping') return false;
    if (published instanceof Error) {
      logger.error('redis_refused_batch', { error: published, hint: 'writing its messages one by one' });
      for (const message of messages) {
        const alone = await publish(message.readings);
        if (alone === 'stopping') return false;
        if (alone instanceof Error) {
          const refused = [{ index: -1, reason: `Redis refused its readings: ${alone.message}` }];
          message.letters = refusalLetters({ ...message, refused });
          message.refused = refused;
          message.readings = [];
        }
      }
    }
    for (const message of messages) {
      if (message.letters.length === 0) continue;
      const written = await untilDone('dead letters', () =>
        deadLetterRefusals(redis, { stream, clientId }, message.letters),
      );
      if (written === 'stopping') return false;
      // A dead letter Redis refuses for good is logged with its reason: nothing else can keep it.
      if (written instanceof Error)
        logger.error('dead_letter_refused', {
          topic: message.topic,
          reasons: message.letters.map((letter) => letter.reason).slice(0, 5),
          error: written,
        });
      counters.refused += message.refused.length;
      if (counters.refused <= LOGGED_REFUSALS)
        logger.warn('reading_refused', {
          topic: message.topic,
          refused: message.refused.slice(0, 5),
          ...(counters.refused >= LOGGED_REFUSALS ? { note: 'further refusals are counted, not logged' } : {}),
        });
    }
    counters.messages += batch.length;
    counters.published += messages.reduce((sum, message) => sum + message.readings.length, 0);
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
    /** Why the door is stuck, for the heartbeat (and so /health): Redis refusing writes for a while. */
    problem(nowMs = Date.now()): string | undefined {
      if (!failing || nowMs - failing.sinceMs < STUCK_AFTER_MS) return undefined;
      return `cannot write to Redis for ${Math.round((nowMs - failing.sinceMs) / 1_000)} s (${failing.error}); messages wait at the broker, unacknowledged`;
    },
    /** Stops retrying and waits for the batch in hand (its PUBACKs go out if it got through). */
    async stop(): Promise<void> {
      stopping = true;
      wake?.();
      await loop;
    },
  };
}
