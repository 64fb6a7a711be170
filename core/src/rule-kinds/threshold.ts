import { type Static, Type } from '@sinclair/typebox';
import { type RuleBase, commonRuleFields, compileBase } from './common.ts';

/** `threshold` (the default kind): a value past a threshold fires; back past clearAt resolves. */
export const ThresholdRuleSchema = Type.Object(
  {
    kind: Type.Optional(Type.Literal('threshold', { description: 'The default kind' })),
    ...commonRuleFields,
    threshold: Type.Number(),
    direction: Type.Optional(Type.Union([Type.Literal('above'), Type.Literal('below')])),
    clearAt: Type.Optional(Type.Number({ description: 'Resolve only once the value is back past this (hysteresis)' })),
    forReadings: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, description: 'Fire after this many consecutive breaches' }),
    ),
    repeatAfterMs: Type.Optional(Type.Integer({ minimum: 1_000, description: 'Notify again while still firing' })),
    escalate: Type.Optional(
      Type.Array(
        Type.Object(
          {
            afterMs: Type.Integer({
              minimum: 1_000,
              maximum: 30 * 86_400_000,
              description: 'Still firing and unacknowledged this long after it fired…',
            }),
            severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], {
              description: '…it is raised again with this severity',
            }),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 5, description: 'Steps, afterMs ascending: each raised once per firing' },
      ),
    ),
    flapping: Type.Optional(
      Type.Object(
        {
          transitions: Type.Integer({ minimum: 2, maximum: 50, description: 'This many transitions…' }),
          withinMs: Type.Integer({
            minimum: 1_000,
            maximum: 86_400_000,
            description: '…within this window make the device flapping',
          }),
        },
        {
          additionalProperties: false,
          description:
            'Past it: one notice, then quiet until the device is stable for the window, then one notice of its state',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export type ThresholdRuleInput = Static<typeof ThresholdRuleSchema>;

/** A threshold rule with its defaults applied and its globs compiled. */
export interface ThresholdRule extends RuleBase {
  kind: 'threshold';
  threshold: number;
  direction: 'above' | 'below';
  clearAt: number;
  forReadings: number;
  repeatAfterMs: number;
  /** Escalation steps, afterMs ascending (none: the rule does not escalate). */
  escalate: Array<{ afterMs: number; severity: 'info' | 'warning' | 'critical' }>;
  /** 0 when the rule has no flapping option. */
  flapTransitions: number;
  flapWithinMs: number;
  /** Past the threshold: value > threshold (above) or value < threshold (below). Exactly at it is not. */
  breaches(value: number): boolean;
  /** Back past clearAt (default: the threshold itself). */
  clears(value: number): boolean;
}

/** What the schema cannot say: clearAt on the safe side of the threshold; escalation steps in order. */
export function thresholdProblems(input: ThresholdRuleInput): string[] {
  const problems: string[] = [];
  const direction = input.direction ?? 'above';
  if (
    input.clearAt !== undefined &&
    !(direction === 'above' ? input.clearAt <= input.threshold : input.clearAt >= input.threshold)
  )
    problems.push(
      `clearAt ${input.clearAt} must be on the safe side of threshold ${input.threshold} (${direction === 'above' ? 'at or below' : 'at or above'} it)`,
    );
  const steps = input.escalate ?? [];
  for (let i = 1; i < steps.length; i++)
    if ((steps[i]?.afterMs ?? 0) <= (steps[i - 1]?.afterMs ?? 0))
      problems.push(`escalate/${i}/afterMs must be later than the step before (${steps[i - 1]?.afterMs} ms)`);
  return problems;
}

export function compileThresholdRule(input: ThresholdRuleInput): ThresholdRule {
  const direction = input.direction ?? 'above';
  const clearAt = input.clearAt ?? input.threshold;
  return {
    ...compileBase(input),
    kind: 'threshold',
    threshold: input.threshold,
    direction,
    clearAt,
    forReadings: input.forReadings ?? 1,
    repeatAfterMs: input.repeatAfterMs ?? 0,
    escalate: input.escalate ?? [],
    flapTransitions: input.flapping?.transitions ?? 0,
    flapWithinMs: input.flapping?.withinMs ?? 0,
    breaches: direction === 'above' ? (value) => value > input.threshold : (value) => value < input.threshold,
    clears:
      input.clearAt === undefined
        ? direction === 'above'
          ? (value) => value <= input.threshold
          : (value) => value >= input.threshold
        : direction === 'above'
          ? (value) => value < clearAt
          : (value) => value > clearAt,
  };
}

/** One line for `rules:check`: what it watches and when it fires. */
export function describeThresholdRule(rule: ThresholdRule): string {
  const clear =
    rule.clearAt === rule.threshold ? '' : `, clears ${rule.direction === 'above' ? 'below' : 'above'} ${rule.clearAt}`;
  return `${rule.metricPattern} on ${rule.devicePattern}, ${rule.direction} ${rule.threshold}${clear}, after ${rule.forReadings} reading(s), ${rule.severity}`;
}

/** What a reading does to it, for `rules:check --reading`. */
export function thresholdVerdict(rule: ThresholdRule, value: number): string {
  return `value ${value} ${rule.breaches(value) ? 'BREACHES' : 'does not breach'} ${rule.threshold}`;
}

/** Its own fields, for summaries (/health, the dashboard's threshold lines). */
export const thresholdDetails = (rule: ThresholdRule) => ({ direction: rule.direction, threshold: rule.threshold });
