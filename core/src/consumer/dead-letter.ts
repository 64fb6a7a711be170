import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';

export interface DeadLetter {
  entryId: string;
  /** The entry's fields as read, kept whole so that it can be inspected and replayed. */
  fields: readonly string[] | null;
  reason: string;
  deliveries: number;
}

export interface DeadLetterSource {
  stream: string;
  group: string;
  consumer: string;
  deadStream: string;
}

/**
 * Queues, on a MULTI, the XADD of each dead letter to `deadStream`, in the shape readDeadLetters
 * (and `bun run deadletters`) reads back. For a letter that is no stream entry (a refused MQTT
 * message), `entryId` is empty.
 */
export function queueDeadLetterEntries(
  multi: ChainableCommander,
  options: DeadLetterSource,
  letters: readonly DeadLetter[],
): void {
  for (const letter of letters) {
    multi.xadd(
      options.deadStream,
      '*',
      'entryId',
      letter.entryId,
      'stream',
      options.stream,
      'group',
      options.group,
      'consumer',
      options.consumer,
      'reason',
      letter.reason.slice(0, 1_000),
      'deliveries',
      String(letter.deliveries),
      'deadAt',
      new Date().toISOString(),
      'fields',
      JSON.stringify(letter.fields ?? []),
    );
  }
}

export interface DeadLetterRecord {
  /** The dead-letter entry's own id. */
  id: string;
  entryId: string;
  stream: string;
  group: string;
  consumer: string;
  reason: string;
  deliveries: number;
  deadAt: string;
  fields: string[];
}

/** Reads a dead-letter stream back: what was dead-lettered, why, and the original fields. */
export async function readDeadLetters(redis: Redis, deadStream: string, count = 1_000): Promise<DeadLetterRecord[]> {
  const entries = await redis.xrange(deadStream, '-', '+', 'COUNT', count);
  return entries.map(([id, flat]) => {
    const record: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
    return {
      id,
      entryId: record.entryId ?? '',
      stream: record.stream ?? '',
      group: record.group ?? '',
      consumer: record.consumer ?? '',
      reason: record.reason ?? '',
      deliveries: Number(record.deliveries),
      deadAt: record.deadAt ?? '',
      fields: JSON.parse(record.fields ?? '[]') as string[],
    };
  });
}
