import { pipelineKeys, replicated } from 'core';
import type Redis from 'ioredis';

/** Deliveries remembered per webhook: a week, and at most this many alert ids. */
const KEEP_MS = 7 * 24 * 60 * 60 * 1_000;
const KEEP_IDS = 200_000;

/** Which alerts a webhook has already answered 2xx to. */
export interface DeliveryLog {
  /** The ids among `ids` already delivered. */
  delivered(ids: readonly string[]): Promise<Set<string>>;
  record(ids: readonly string[]): Promise<void>;
}

/**
 * Deliveries kept in Redis, per webhook (a sorted set of alert ids by delivery time): when the notify group is rebuilt from scratch (destroyed, or Redis restored
 * from a backup) the alerts stream is read again from its start, and what a receiver already got
 * is acknowledged without being sent twice. A crash between the receiver's 2xx and the record
 * can still send one message again — receivers dedupe by `alertIds` for that.
 */
export function redisDeliveryLog(redis: Redis, webhookUrl: string): DeliveryLog {
  const key = pipelineKeys.webhook('webhook-delivered', webhookUrl);
  return {
    async delivered(ids) {
      if (ids.length === 0) return new Set();
      const scores = await redis.zmscore(key, ...ids);
      return new Set(ids.filter((_, index) => scores[index] !== null));
    },
    async record(ids) {
      if (ids.length === 0) return;
      const now = Date.now();
      // On the replicas too before the alerts are acknowledged: a failover must not forget a 2xx
      // and send the message again (left: the moment between the 2xx and this write).
      await replicated(redis, () =>
        redis
          .multi()
          .zadd(key, ...ids.flatMap((id) => [now, id]))
          .zremrangebyscore(key, '-inf', now - KEEP_MS)
          .zremrangebyrank(key, 0, -KEEP_IDS - 1)
          .pexpire(key, KEEP_MS)
          .exec(),
      );
    },
  };
}
