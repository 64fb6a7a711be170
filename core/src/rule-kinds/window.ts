import { type Static, Type } from '@sinclair/typebox';
import { type RuleBase, commonRuleFields, compileBase } from './common.ts';

/** Steps in one window at most: each device's state holds one aggregate per step. */
export const MAX_WINDOW_STEPS = 60;

const DAY_MS = 86_400_000;

/**
 * `window`: an aggregate (`mean`, `min`, `max`, `count`) of a device's readings of a metric over
 * `windowMs`, past a threshold, fires — at once, or once it has stayed past it for `forMs`; a
 * window back within it resolves. Windows end at multiples of `stepMs` (default `windowMs`:
 * back-to-back windows; a smaller step slides them) and are judged when complete: by the device's
 * first reading past the window's end. "The mean over 5 minutes above 80 for 2 minutes" is
 * `{ aggregate: mean, windowMs: 300000, stepMs: 60000, threshold: 80, forMs: 120000 }`.
 */
export const WindowRuleSchema = Type.Object(
  {
    kind: Type.Literal('window'),
    ...commonRuleFields,
    aggregate: Type.Union([Type.Literal('mean'), Type.Literal('min'), Type.Literal('max'), Type.Literal('count')], {
      description: 'What of the window’s readings is compared',
    }),
    windowMs: Type.Integer({ minimum: 1_000, maximum: DAY_MS, description: 'The window’s length' }),
    stepMs: Type.Optional(
      Type.Integer({
        minimum: 1_000,
        maximum: DAY_MS,
        description: 'Windows end at multiples of this (it divides windowMs); default windowMs',
      }),
    ),
    threshold: Type.Number(),
    direction: Type.Optional(Type.Union([Type.Literal('above'), Type.Literal('below')])),
    forMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30 * DAY_MS,
        description: 'Fire only once windows have been past the threshold this long; default 0',
      }),
    ),
  },
  { additionalProperties: false },
);

export type WindowRuleInput = Static<typeof WindowRuleSchema>;

export type WindowAggregate = WindowRuleInput['aggregate'];

export interface WindowRule extends RuleBase {
  kind: 'window';
  aggregate: WindowAggregate;
  windowMs: number;
  stepMs: number;
  threshold: number;
  direction: 'above' | 'below';
  forMs: number;
}

/** What the schema cannot say: the step divides the window into at most MAX_WINDOW_STEPS. */
export function windowProblems(input: WindowRuleInput): string[] {
  const step = input.stepMs ?? input.windowMs;
  if (input.windowMs % step !== 0) return [`stepMs: ${step} must divide windowMs ${input.windowMs}`];
  if (input.windowMs / step > MAX_WINDOW_STEPS)
    return [`stepMs: ${step} splits windowMs into ${input.windowMs / step} steps; at most ${MAX_WINDOW_STEPS}`];
  return [];
}

export function compileWindowRule(input: WindowRuleInput): WindowRule {
  return {
    ...compileBase(input),
    kind: 'window',
    aggregate: input.aggregate,
    windowMs: input.windowMs,
    stepMs: input.stepMs ?? input.windowMs,
    threshold: input.threshold,
    direction: input.direction ?? 'above',
    forMs: input.forMs ?? 0,
  };
}

const seconds = (ms: number) => `${ms / 1_000} s`;

/** One line for `rules:check`: what it watches and when it fires. */
export function describeWindowRule(rule: WindowRule): string {
  const past = rule.direction === 'above' ? '>' : '<';
  const every = rule.stepMs === rule.windowMs ? '' : ` every ${seconds(rule.stepMs)}`;
  const held = rule.forMs > 0 ? ` for ${seconds(rule.forMs)}` : '';
  return `${rule.metricPattern} on ${rule.devicePattern}, ${rule.aggregate} over ${seconds(rule.windowMs)}${every} ${past} ${rule.threshold}${held}, ${rule.severity}`;
}

/** What a reading does to it, for `rules:check --reading`. */
export function windowVerdict(rule: WindowRule): string {
  return `counted in the device’s window of ${seconds(rule.windowMs)}; the window is judged once complete`;
}

/** Its own fields, for summaries (/health). */
export const windowDetails = (rule: WindowRule) => ({
  aggregate: rule.aggregate,
  windowMs: rule.windowMs,
  stepMs: rule.stepMs,
  threshold: rule.threshold,
  direction: rule.direction,
  forMs: rule.forMs,
});
