import { type Static, Type } from '@sinclair/typebox';
import { type RuleBase, commonRuleFields, compileBase } from './common.ts';

/** Silences shorter than this are noise, not absence; longer than this are not watched. */
const MIN_SILENT_MS = 1_000;
const MAX_SILENT_MS = 30 * 24 * 60 * 60 * 1_000;

/**
 * `absence`: a device that has reported before and then sends nothing matching for `silentForMs`
 * fires; its next matching reading resolves. With `metric` the watch is per device and metric (a
 * pump that still sends `temp` but no more `kwh` is silent on `kwh`); without, per device.
 */
export const AbsenceRuleSchema = Type.Object(
  {
    kind: Type.Literal('absence'),
    ...commonRuleFields,
    silentForMs: Type.Integer({
      minimum: MIN_SILENT_MS,
      maximum: MAX_SILENT_MS,
      description: 'Fire when a device (or device and metric) that reported before has sent nothing for this long',
    }),
    repeatAfterMs: Type.Optional(
      Type.Integer({
        minimum: 1_000,
        maximum: MAX_SILENT_MS,
        description: 'Notify again this often while still silent and unacknowledged',
      }),
    ),
  },
  { additionalProperties: false },
);

export type AbsenceRuleInput = Static<typeof AbsenceRuleSchema>;

export interface AbsenceRule extends RuleBase {
  kind: 'absence';
  silentForMs: number;
  /** Watched per device and metric (the rule names a metric), else per device. */
  perMetric: boolean;
  /** 0: no reminders. */
  repeatAfterMs: number;
}

export function compileAbsenceRule(input: AbsenceRuleInput): AbsenceRule {
  return {
    ...compileBase(input),
    kind: 'absence',
    silentForMs: input.silentForMs,
    perMetric: input.metric !== undefined,
    repeatAfterMs: input.repeatAfterMs ?? 0,
  };
}

/** One line for `rules:check`: what it watches and when it fires. */
export function describeAbsenceRule(rule: AbsenceRule): string {
  const reminders = rule.repeatAfterMs > 0 ? `, reminded every ${rule.repeatAfterMs / 1_000} s` : '';
  return `${rule.metricPattern} on ${rule.devicePattern}, silent for ${rule.silentForMs / 1_000} s (per ${rule.perMetric ? 'device and metric' : 'device'})${reminders}, ${rule.severity}`;
}

/** What a reading does to it, for `rules:check --reading`. */
export function absenceVerdict(): string {
  return 'a reading keeps the device watched (and resolves its silence)';
}

/** Its own fields, for summaries (/health). */
export const absenceDetails = (rule: AbsenceRule) => ({
  silentForMs: rule.silentForMs,
  repeatAfterMs: rule.repeatAfterMs,
});
