import type { WindowRule } from 'core';
import { createMemberKind } from '../member-kind.ts';

/** A window rule's per-member state hash, beside the alerts stream. */
export const windowStateKey = (alertsStream: string, ruleId: string) => `${alertsStream}:window:${ruleId}`;

/**
 * Window rules, in the `alerts` group's handler: each matching reading counted in its device's
 * windows, a window judged when the device's first reading past its end comes, in one script
 * call per rule and batch (lua/evaluate-window.lua).
 */
export const createWindowEvaluator = createMemberKind<WindowRule>({
  script: 'evaluate-window.lua',
  stateKey: windowStateKey,
  ruleArgs: (rule) => [
    rule.id,
    rule.severity,
    rule.aggregate,
    rule.windowMs,
    rule.stepMs,
    rule.threshold,
    rule.direction,
    rule.forMs,
  ],
});
