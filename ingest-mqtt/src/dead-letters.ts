import type Redis from 'ioredis';
import type { Refusal } from './payload.ts';

/** The most of a payload kept in a dead letter. */
const KEPT_PAYLOAD_BYTES = 64 * 1024;

/**
 * Each refused reading (or a whole refused payload) as an entry of `<stream>:dead`, in the shape
 * the consumers' dead letters have (`bun run deadletters` lists them): group `mqtt`, the topic in
 * the reason and in the fields, and what was refused — the reading, or the payload's first 64 KiB.
 */
export async function deadLetterRefusals(
  redis: Redis,
  options: { stream: string; clientId: string; topic: string; payload: Uint8Array },
  refusals: readonly Refusal[],
): Promise<void> {
  const { stream, clientId, topic, payload } = options;
  const text = new TextDecoder().decode(payload.subarray(0, KEPT_PAYLOAD_BYTES));
  let items: unknown[] | undefined;
  const multi = redis.multi();
  for (const refusal of refusals) {
    let kept = text;
    if (refusal.index >= 0) {
      items ??= (() => {
        const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
        return Array.isArray(parsed) ? parsed : [parsed];
      })();
      kept = JSON.stringify(items[refusal.index]).slice(0, KEPT_PAYLOAD_BYTES);
    }
    const where = refusal.index >= 0 ? `reading ${refusal.index} of the message on ${topic}` : `the message on ${topic}`;
    multi.xadd(
      `${stream}:dead`,
      '*',
      'entryId', '',
      'stream', stream,
      'group', 'mqtt',
      'consumer', clientId,
      'reason', `${where}: ${refusal.reason}`.slice(0, 1_000),
      'deliveries', '1',
      'deadAt', new Date().toISOString(),
      'fields', JSON.stringify(['topic', topic, 'payload', kept]),
    );
  }
  await multi.exec();
}
