import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineKeys } from 'core';
import type Redis from 'ioredis';

const TAKE_TURN = readFileSync(join(import.meta.dir, 'lua/take-webhook-turn.lua'), 'utf8');

type PacingRedis = Redis & { takeWebhookTurn(key: string, intervalMs: number): Promise<number> };

/** Waits for the webhook's next turn to send: at most one message per interval. */
export interface WebhookPace {
  turn(): Promise<void>;
}

/**
 * One pace per webhook shared by every instance through Redis (`lua/take-webhook-turn.lua`): two
 * consumer-alert instances on one Slack channel still send one message a second between them.
 */
export function sharedPace(redis: Redis, webhookUrl: string, intervalMs: number): WebhookPace {
  if (!('takeWebhookTurn' in redis)) redis.defineCommand('takeWebhookTurn', { numberOfKeys: 1, lua: TAKE_TURN });
  const key = pipelineKeys.webhook('webhook-pace', webhookUrl);
  return {
    async turn() {
      for (;;) {
        const waitMs = await (redis as PacingRedis).takeWebhookTurn(key, intervalMs);
        if (waitMs <= 0) return;
        await Bun.sleep(waitMs);
      }
    },
  };
}

/** The pace of one process alone (no Redis at hand: tests of the notifier by itself). */
export function localPace(intervalMs: number): WebhookPace {
  let nextAt = 0;
  return {
    async turn() {
      const wait = nextAt - Date.now();
      if (wait > 0) await Bun.sleep(wait);
      nextAt = Date.now() + intervalMs;
    },
  };
}
