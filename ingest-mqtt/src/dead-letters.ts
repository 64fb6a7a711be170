import { type DeadLetter, queueDeadLetterEntries, streamKeys } from 'core';
import type Redis from 'ioredis';
import type { Refusal } from './payload.ts';

/** The most of a payload kept in a dead letter. */
const KEPT_PAYLOAD_BYTES = 64 * 1024;

export interface RefusedMessage {
  topic: string;
  payload: Uint8Array;
  refused: readonly Refusal[];
}

/**
 * Each refused reading (or a whole refused payload) as a dead letter in the consumers' shape
 * (`bun run deadletters` lists them): the topic in the reason and in the fields, and the payload's
 * first 64 KiB as the text it came as — never parsed and serialized again, so that a payload the
 * parser refused cannot fail (or overflow the stack) on its way to the dead letters. The text is
 * kept once a message: the first of its letters holds it, the others point to it (5,000 refused
 * readings of one message would otherwise keep its 64 KiB 5,000 times).
 */
export function refusalLetters({ topic, payload, refused }: RefusedMessage): DeadLetter[] {
  const text = new TextDecoder().decode(payload.subarray(0, KEPT_PAYLOAD_BYTES));
  return refused.map(({ index, reason }, nth) => ({
    entryId: '',
    fields: ['topic', topic, 'payload', nth === 0 ? text : '(kept with the first dead letter of this message)'],
    reason: `${index >= 0 ? `reading ${index} of the message on ${topic}` : `the message on ${topic}`}: ${reason}`,
    deliveries: 1,
  }));
}

/** Writes the dead letters of refused messages to the stream's (keys.ts), group `mqtt`, in one MULTI. */
export async function deadLetterRefusals(
  redis: Redis,
  options: { stream: string; clientId: string },
  letters: readonly DeadLetter[],
): Promise<void> {
  const { stream, clientId } = options;
  const multi = redis.multi();
  queueDeadLetterEntries(
    multi,
    { stream, group: 'mqtt', consumer: clientId, deadStream: streamKeys(redis, stream).dead },
    letters,
  );
  await multi.exec();
}
