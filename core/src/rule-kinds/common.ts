import { Type } from '@sinclair/typebox';
import { NAME_PATTERN, type Reading } from '../contracts/reading.ts';
import { compileGlob } from '../glob.ts';

/** `*` matches any run of characters; everything else literally. */
export const GLOB_PATTERN = '^[A-Za-z0-9._:*-]+$';

/** The fields every kind of rule has: which readings it watches, and how loud it is. */
export const commonRuleFields = {
  id: Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN }),
  metric: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: GLOB_PATTERN,
      description: 'Metric name or glob; default every metric',
    }),
  ),
  device: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: GLOB_PATTERN,
      description: 'Device id or glob; default every device',
    }),
  ),
  severity: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')])),
};

export type Severity = 'info' | 'warning' | 'critical';

/** What every compiled rule has, whatever its kind. */
export interface RuleBase {
  id: string;
  severity: Severity;
  metricPattern: string;
  devicePattern: string;
  matches(reading: Pick<Reading, 'metric' | 'deviceId'>): boolean;
}

/** The common part of a rule as compiled from what was written. */
export function compileBase(input: { id: string; metric?: string; device?: string; severity?: Severity }): RuleBase {
  const metric = compileGlob(input.metric ?? '*');
  const device = compileGlob(input.device ?? '*');
  return {
    id: input.id,
    severity: input.severity ?? 'warning',
    metricPattern: input.metric ?? '*',
    devicePattern: input.device ?? '*',
    matches: (reading) => metric.matches(reading.metric) && device.matches(reading.deviceId),
  };
}
