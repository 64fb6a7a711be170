import { type Static, Type } from '@sinclair/typebox';
import { type RuleBase, commonRuleFields, compileBase } from './common.ts';

/**
 * `rate`: the change per second between a device's consecutive readings of a metric, past
 * `perSecond` — rising (`rising`), falling (`falling`) or either (default) — fires; a later change
 * within it resolves. A leak is a tank level falling faster than it ever should; a stuck meter
 * jumping is a rise no pump makes.
 */
export const RateRuleSchema = Type.Object(
  {
    kind: Type.Literal('rate'),
    ...commonRuleFields,
    perSecond: Type.Number({ exclusiveMinimum: 0, description: 'The change per second past which it fires' }),
    direction: Type.Optional(
      Type.Union([Type.Literal('rising'), Type.Literal('falling'), Type.Literal('either')], {
        description: 'Which changes count; default either',
      }),
    ),
  },
  { additionalProperties: false },
);

export type RateRuleInput = Static<typeof RateRuleSchema>;

export interface RateRule extends RuleBase {
  kind: 'rate';
  perSecond: number;
  direction: 'rising' | 'falling' | 'either';
}

export function compileRateRule(input: RateRuleInput): RateRule {
  return { ...compileBase(input), kind: 'rate', perSecond: input.perSecond, direction: input.direction ?? 'either' };
}

/** One line for `rules:check`: what it watches and when it fires. */
export function describeRateRule(rule: RateRule): string {
  const which = rule.direction === 'either' ? 'rising or falling' : rule.direction;
  return `${rule.metricPattern} on ${rule.devicePattern}, ${which} faster than ${rule.perSecond}/s between consecutive readings, ${rule.severity}`;
}

/** What a reading does to it, for `rules:check --reading`. */
export function rateVerdict(): string {
  return 'compared with the device’s previous reading of the metric (its change per second)';
}

/** Its own fields, for summaries (/health). */
export const rateDetails = (rule: RateRule) => ({ perSecond: rule.perSecond, direction: rule.direction });
