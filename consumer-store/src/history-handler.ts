import {
  type Alert,
  type ConsumerEntry,
  type EntryOutcome,
  type Logger,
  entryTimeMs,
  readSilences,
  silencing,
} from 'core';
import type Redis from 'ioredis';
import type { ApiClient } from './api-client.ts';

export interface HistoryCounters {
  alerts_stored: number;
  alerts_duplicates: number;
  alerts_rejected: number;
}

/**
 * The `history` group's handler: every alert transition to the API's alert history
 * (POST /alerts/batch, idempotent by alert id), marked silenced when a silence was in force as
 * the evaluator raised it — the rule the notifier applies, so the two always agree. Items the API
 * refuses are dead-lettered; anything else is retried by the consumer.
 */
export function createHistoryHandler(options: {
  client: ApiClient;
  redis: Redis;
  alertsStream: string;
  logger: Logger;
}) {
  const { client, redis, alertsStream, logger } = options;
  const counters: HistoryCounters = { alerts_stored: 0, alerts_duplicates: 0, alerts_rejected: 0 };
  return {
    counters,
    async handle(batch: ReadonlyArray<ConsumerEntry<Alert>>): Promise<EntryOutcome[]> {
      const silences = await readSilences(redis, alertsStream);
      const items = batch.map(({ entryId, value: alert }) => {
        const raisedAt = entryTimeMs(entryId);
        return { alert, raisedAt, silenced: silencing(silences, alert, raisedAt) !== undefined };
      });
      const reply = await client.postAlerts(items);
      const outcomes: EntryOutcome[] = batch.map(() => 'done');
      if (reply.kind === 'stored') {
        counters.alerts_stored += reply.inserted;
        counters.alerts_duplicates += reply.duplicates;
        for (const [index, reason] of reply.rejected) outcomes[index] = { dead: reason };
      } else {
        // Items are checked one by one (refused by index), and a batch is at most the group's
        // batch size (≤ the API's 5,000): a whole-batch refusal names a bug, kept in the dead letters.
        const reason = `rejected by the API: ${reply.kind === 'invalid' ? [...reply.invalid.values()].join('; ') : 'too large'}`;
        outcomes.fill({ dead: reason });
        logger.error('history_batch_refused', { reason, alerts: batch.length });
      }
      counters.alerts_rejected += outcomes.filter((outcome) => outcome !== 'done').length;
      return outcomes;
    },
  };
}
