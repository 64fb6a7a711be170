import type Redis from 'ioredis';
import type { Logger } from '../logger.ts';
import { backoffMs } from '../redis.ts';
import { type DeadLetter, queueDeadLetterEntries } from './dead-letter.ts';
import type { ConsumerStats } from './types.ts';

export interface SettlerOptions {
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  deadLetterStream: string;
  stats: ConsumerStats;
  log: Logger;
  /** True once the consumer closes: with Redis away, a settle then gives up after a few tries. */
  closing: () => boolean;
  retryBaseMs: number;
  /** The longest pause between tries: Redis back must not wait on a long backoff. */
  retryMaxMs: number;
}

/**
 * Acknowledges entries whose effect is durable, with their dead letters, in one MULTI: retried
 * until Redis takes it (the effect is done; only the record is missing). At close, with Redis
 * away, it gives up and leaves them pending: redelivery is harmless, the handlers are idempotent.
 */
export function createSettler(options: SettlerOptions) {
  const { redis, stream, group, consumer, deadLetterStream, stats, log } = options;
  const write = async (acks: string[], dead: DeadLetter[]) => {
    if (dead.length === 0) {
      // A plain XACK, not a MULTI: a full Redis refuses every command queued in a MULTI, and
      // acknowledging (which frees memory once the stream is trimmed) must work then too.
      await redis.xack(stream, group, ...acks);
      return;
    }
    const multi = redis.multi();
    queueDeadLetterEntries(multi, { stream, group, consumer, deadStream: deadLetterStream }, dead);
    if (acks.length > 0) multi.xack(stream, group, ...acks);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('MULTI was discarded');
  };

  return async function settle(acks: string[], dead: DeadLetter[]): Promise<void> {
    if (acks.length === 0 && dead.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await write(acks, dead);
        stats.acked += acks.length;
        stats.deadLettered += dead.length;
        for (const letter of dead)
          log.warn('dead_lettered', {
            entryId: letter.entryId,
            reason: letter.reason,
            deliveries: letter.deliveries,
            deadLetterStream,
          });
        return;
      } catch (error) {
        if (attempt === 0) log.warn('ack_failed_retrying', { error });
        if (options.closing() && attempt >= 3) return;
        await Bun.sleep(backoffMs(attempt, options.retryBaseMs, options.retryMaxMs));
      }
    }
  };
}
export type Settler = ReturnType<typeof createSettler>;
