import type { RateRule } from 'core';
import { createMemberKind } from '../member-kind.ts';

/** A rate rule's per-member state hash, beside the alerts stream. */
export const rateStateKey = (alertsStream: string, ruleId: string) => `${alertsStream}:rate:${ruleId}`;

/**
 * Rate rules, in the `alerts` group's handler: each matching reading against the device's previous
 * reading of the metric, in one script call per rule and batch (lua/evaluate-rate.lua).
 */
export const createRateEvaluator = createMemberKind<RateRule>({
  script: 'evaluate-rate.lua',
  stateKey: rateStateKey,
  ruleArgs: (rule) => [rule.id, rule.severity, rule.perSecond, rule.direction],
});
