import { queueDeadLetterEntries } from 'core';
import type Redis from 'ioredis';
import type { Refusal } from './payload.ts';

/** The most of a payload kept in a dead letter. */
const KEPT_PAYLOAD_BYTES = 64 * 1024;

/**
 * Each refused reading (or a whole refused payload) as an entry of `<stream>:dead`, in the
 * consumers' dead-letter shape (`bun run deadletters` lists them): group `mqtt`, the topic in the
 * reason and in the fields, and what was refused — the reading, or the payload's first 64 KiB.
 */
export async function deadLetterRefusals(
  redis: Redis,
  options: { stream: string; clientId: string; topic: string; payload: Uint8Array },
  refusals: readonly Refusal[],
): Promise<void> {
  const { stream, clientId, topic, payload } = options;
  const text = new TextDecoder().decode(payload.subarray(0, KEPT_PAYLOAD_BYTES));
  let items: unknown[] | undefined;
  const kept = (index: number) => {
    if (index < 0) return text;
    // Only refusals of single readings get here, so the payload is JSON.
    items ??= [JSON.parse(new TextDecoder().decode(payload))].flat();
    return JSON.stringify(items[index]).slice(0, KEPT_PAYLOAD_BYTES);
  };
  const multi = redis.multi();
  queueDeadLetterEntries(
    multi,
    { stream, group: 'mqtt', consumer: clientId, deadStream: `${stream}:dead` },
    refusals.map(({ index, reason }) => ({
      entryId: '',
      fields: ['topic', topic, 'payload', kept(index)],
      reason: `${index >= 0 ? `reading ${index} of the message on ${topic}` : `the message on ${topic}`}: ${reason}`,
      deliveries: 1,
    })),
  );
  await multi.exec();
}
