import { type Alert, type Reading, type RuleInput, compileRule, decodeAlert } from 'core';
import { uniqueName } from 'core/testing';
import type Redis from 'ioredis';
import { createEvaluator } from './evaluator.ts';

/**
 * For tests of a kind against hand-computed series: `rule` alone evaluated batch by batch (each
 * reading arriving now) into an alerts stream of its own, and the alerts it wrote, in order.
 */
export async function alertsOfBatches(redis: Redis, rule: RuleInput, batches: readonly Reading[][]): Promise<Alert[]> {
  const alertsStream = uniqueName('alerts');
  const evaluator = createEvaluator({ redis, rules: [compileRule(rule)], alertsStream });
  for (const batch of batches)
    await evaluator.handle(batch.map((value) => ({ entryId: `${Date.now()}-0`, value, deliveries: 1 })));
  return (await redis.xrange(alertsStream, '-', '+')).map(([, fields]) => decodeAlert(fields));
}
