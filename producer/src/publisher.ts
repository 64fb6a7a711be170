import { type Logger, type Reading, type ReadingStreams, publishReadings, reconnectDelayMs } from 'core';
import type Redis from 'ioredis';

export interface PublisherOptions {
  /** A connection created with `failFast`: this buffer, not ioredis's unbounded queue, holds readings while Redis is away. */
  redis: Redis;
  /** The readings stream, or its partitions (STREAM_PARTITIONS). */
  stream: ReadingStreams | string;
  logger: Logger;
  /** Readings kept while Redis is unreachable; past this the oldest are dropped and counted. Default 100,000. */
  maxBuffered?: number;
  /** Readings per round trip. Default 1,000. */
  batchSize?: number;
  /** Readings per stream entry (FRAME_READINGS); 1 writes one entry per reading. */
  frameReadings?: number;
}

export interface PublisherStats {
  /** Readings Redis acknowledged (XADD returned an id). */
  sent: number;
  /** Readings waiting to be sent. */
  buffered: number;
  /** Readings dropped because the buffer was full while Redis was away. */
  dropped: number;
}

export interface Publisher {
  /** Queues readings for sending; never blocks. When the buffer is full the oldest are dropped. */
  publish(readings: readonly Reading[]): void;
  /** Resolves once there is room for `count` more readings: backpressure for file replay, which must not drop. */
  waitForRoom(count: number): Promise<void>;
  stats(): PublisherStats;
  /** Called with each batch Redis acknowledged, in order. */
  onSent(listener: (readings: readonly Reading[]) => void): void;
  /** Sends what is buffered (waiting at most `timeoutMs`) and stops. Returns the readings left unsent. */
  close(timeoutMs: number): Promise<number>;
}

/**
 * Sends readings with one XADD each, in batches, one batch in flight at a time so that
 * per-device order is kept. While Redis is away it keeps a bounded buffer and retries with
 * backoff. An XADD whose reply was lost is sent again: the stream may then hold the reading twice,
 * and storage stays exact because the reading id is the idempotency key.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { redis, stream, logger, maxBuffered = 100_000, batchSize = 1_000 } = options;
  // A FIFO as an array plus a head index: shift() on a large array is O(n).
  let queue: Reading[] = [];
  let head = 0;
  let sent = 0;
  let dropped = 0;
  let droppedSinceWarning = 0;
  let closing = false;
  let wake: (() => void) | undefined;
  let roomWaiters: Array<{ count: number; resolve: () => void }> = [];
  const sentListeners: Array<(readings: readonly Reading[]) => void> = [];

  const buffered = () => queue.length - head;

  const notifyRoom = () => {
    if (roomWaiters.length === 0) return;
    const stillWaiting = [];
    for (const waiter of roomWaiters) {
      if (buffered() + waiter.count <= maxBuffered || closing) waiter.resolve();
      else stillWaiting.push(waiter);
    }
    roomWaiters = stillWaiting;
  };

  const sendBatch = (batch: Reading[]): Promise<number> => publishReadings(redis, stream, batch, options.frameReadings);

  const loop = async () => {
    let failures = 0;
    while (true) {
      if (buffered() === 0) {
        if (closing) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      const batch = queue.slice(head, head + batchSize);
      try {
        const count = await sendBatch(batch);
        head += count;
        sent += count;
        if (head > 65_536 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        if (failures > 0) logger.info('redis_publishing_again', { buffered: buffered(), dropped });
        failures = 0;
        for (const listener of sentListeners) listener(batch);
        notifyRoom();
      } catch (error) {
        if (failures === 0) logger.warn('publish_failed_buffering', { error, buffered: buffered() });
        failures += 1;
        if (closing && closeDeadline < Date.now()) return;
        // Cut short by close(): a stop does not wait out a long backoff.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(
            resolve,
            Math.max(0, Math.min(reconnectDelayMs(failures), closeDeadline - Date.now() + 1)),
          );
          endBackoff = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        endBackoff = undefined;
      }
    }
  };

  let closeDeadline = Number.POSITIVE_INFINITY;
  let endBackoff: (() => void) | undefined;
  // Give the first connection a moment, so a normal start does not log a failed publish.
  const running = untilReady(redis, 2_000).then(loop);

  const warnDropped = setInterval(() => {
    if (droppedSinceWarning === 0) return;
    logger.error('buffer_full_dropped_oldest', { dropped: droppedSinceWarning, droppedTotal: dropped, maxBuffered });
    droppedSinceWarning = 0;
  }, 1_000);
  warnDropped.unref();

  return {
    publish(readings) {
      if (closing) throw new Error('publisher is closed');
      for (const reading of readings) queue.push(reading);
      const overflow = buffered() - maxBuffered;
      if (overflow > 0) {
        head += overflow;
        dropped += overflow;
        droppedSinceWarning += overflow;
      }
      wake?.();
    },
    waitForRoom(count) {
      if (buffered() + count <= maxBuffered) return Promise.resolve();
      return new Promise((resolve) => roomWaiters.push({ count, resolve }));
    },
    stats: () => ({ sent, buffered: buffered(), dropped }),
    onSent(listener) {
      sentListeners.push(listener);
    },
    async close(timeoutMs) {
      if (!closing) {
        closing = true;
        closeDeadline = Date.now() + timeoutMs;
        wake?.();
        notifyRoom();
      } else {
        // A stop (Ctrl-C) while a flush waits for Redis without end (--count reached with Redis
        // down): the sooner deadline wins, so the producer stops instead of waiting for ever.
        closeDeadline = Math.min(closeDeadline, Date.now() + timeoutMs);
      }
      endBackoff?.();
      if (Number.isFinite(timeoutMs)) await Promise.race([running, Bun.sleep(timeoutMs)]);
      else await running;
      clearInterval(warnDropped);
      return buffered();
    },
  };
}

function untilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}
