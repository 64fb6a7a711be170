import { createSleeper } from '../sleeper.ts';
import { createBatchesInHand } from './batches-in-hand.ts';
import { createBatchHandler } from './batch-handler.ts';
import { createClaimer } from './claimer.ts';
import { type ConsumerOptions, resolveConsumerOptions } from './consumer-options.ts';
import { createGroupReader } from './group-reader.ts';
import { createSettler } from './settler.ts';
import { runReadLoop } from './read-loop.ts';
import { type Consumer, emptyConsumerStats } from './types.ts';

export { type ConsumerOptions } from './consumer-options.ts';
export {
  type Consumer,
  type ConsumerEntry,
  type ConsumerStats,
  type DecodedItem,
  type EntryOutcome,
  type RetryAfter,
  StopConsumingError,
  emptyConsumerStats,
} from './types.ts';

/**
 * The one consumer-group loop: at-least-once delivery with acks only after the handler's effect
 * is durable, own pending entries re-read on start, dead consumers' entries taken over, poison
 * entries dead-lettered, and transient failures retried in memory with backoff (so an outage does
 * not count as deliveries). Options are validated here, before anything runs.
 */
export function createConsumer<T>(options: ConsumerOptions<T>): Consumer {
  const resolved = resolveConsumerOptions(options);
  const {
    redis,
    blockingRedis,
    stream,
    group,
    logger,
    name,
    batchSize,
    blockMs,
    claimIdleMs,
    retryBaseMs,
    redisRetryMaxMs,
    forgetConsumersAfterMs,
    concurrency,
    deadLetterStream,
  } = resolved;
  const log = logger.child({ stream, group, consumer: name });

  const stats = emptyConsumerStats();
  let closing = false;
  let running: Promise<{ reason: 'closed' | 'stopped'; message?: string }> | undefined;
  let closed: Promise<void> | undefined;
  // Backoff sleeps that close() cuts short.
  const sleeper = createSleeper();
  const pause = sleeper.sleep;
  const isClosing = () => closing;

  // The parts, each in its own file: the options resolved, reading the group, settling (acks and
  // dead letters), taking over what dead consumers left, the batches in hand with their ordering
  // rule, the batch ledger (items handled, retried and settled), and the loop that drives them.
  const reader = createGroupReader({ redis, blockingRedis, stream, group, consumer: name, batchSize, blockMs });
  const settle = createSettler({
    redis,
    stream,
    group,
    consumer: name,
    deadLetterStream,
    stats,
    log,
    closing: isClosing,
    retryBaseMs,
    retryMaxMs: redisRetryMaxMs,
  });
  const claimIdle = createClaimer({
    redis,
    stream,
    group,
    consumer: name,
    claimIdleMs,
    batchSize,
    forgetConsumersAfterMs,
    stats,
    log,
    closing: isClosing,
  });
  const inHand = createBatchesInHand(concurrency, (entries) => processEntries(entries, 'new'));
  const processEntries = createBatchHandler({
    options: resolved,
    reader,
    settle,
    inHand,
    stats,
    log,
    closing: isClosing,
    pause,
  });

  return {
    name,
    run() {
      running ??= runReadLoop({
        options: resolved,
        reader,
        inHand,
        processEntries,
        claimIdle,
        log,
        closing: isClosing,
        pause,
      });
      return running;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        reader.detach();
        sleeper.wakeAll();
        if (!running) return;
        // A blocked read returns within blockMs; if Redis is away it would wait for the
        // reconnect, so cut it and its connection then (what it had delivered stays pending).
        const finished = await Promise.race([running.then(() => true), Bun.sleep(blockMs + 1_000).then(() => false)]);
        if (!finished) {
          log.warn('close_cut_read', {
            hint: `no answer from Redis within ${blockMs + 1_000} ms: the read and its connection are cut; what it delivered stays pending`,
          });
          reader.cut();
          blockingRedis.disconnect();
        }
        await running;
      })();
      return closed;
    },
    stats: () => ({ ...stats }),
  };
}
