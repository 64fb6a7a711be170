import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { InvalidEventError } from './errors.ts';
import {
  type FieldList,
  type FieldRecord,
  MAX_EPOCH_MS,
  parseEpochMs,
  parseFiniteNumber,
  quote,
  requireField,
  toFieldRecord,
} from './fields.ts';
import { NAME_PATTERN } from './reading.ts';
import { assertSchema } from './schema-errors.ts';

export const ALERT_VERSION = '1';

export const AlertState = Type.Union([Type.Literal('firing'), Type.Literal('resolved')]);
export const AlertSeverity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);

export const AlertSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    ruleId: Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN }),
    deviceId: Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN }),
    metric: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    /** The reading's value; absent for kinds no reading triggers (absence: a device gone quiet). */
    value: Type.Optional(Type.Number()),
    /** The rule's threshold; absent for kinds without one (absence). */
    threshold: Type.Optional(Type.Number()),
    state: AlertState,
    severity: AlertSeverity,
    ts: Type.Integer({ minimum: 0, maximum: MAX_EPOCH_MS }),
    readingId: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    /** Why it was raised other than by a reading crossing: a rule removed, a silence ended, flapping. */
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    /** Recorded, not notified: a flapping device's transitions between its two notices. */
    quiet: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** A rule's transition (or a repeat while firing) for one device: a threshold crossed, a device gone quiet. */
export type Alert = Static<typeof AlertSchema>;

const alertCheck = TypeCompiler.Compile(AlertSchema);

/**
 * See readingUpcasters: the one place where older alert versions are upcast. `note` and `quiet`
 * were added to version 1 as optional fields: a reader that predates them ignores them. `value`
 * and `threshold` became optional with absence rules: a reader older than that refuses an absence
 * alert (a dead letter), so consumers are upgraded before the evaluator, as for readings.
 */
const alertUpcasters: Readonly<Record<string, (fields: FieldRecord) => FieldRecord>> = {
  '1': (fields) => fields,
};

export function encodeAlert(alert: Alert): string[] {
  return [
    'v',
    ALERT_VERSION,
    'id',
    alert.id,
    'ruleId',
    alert.ruleId,
    'deviceId',
    alert.deviceId,
    'metric',
    alert.metric,
    ...(alert.value === undefined ? [] : ['value', String(alert.value)]),
    ...(alert.threshold === undefined ? [] : ['threshold', String(alert.threshold)]),
    'state',
    alert.state,
    'severity',
    alert.severity,
    'ts',
    String(alert.ts),
    'readingId',
    alert.readingId,
    ...(alert.note === undefined ? [] : ['note', alert.note]),
    ...(alert.quiet ? ['quiet', '1'] : []),
  ];
}

/** @throws InvalidEventError naming the missing or bad field. */
export function decodeAlert(fields: FieldList | FieldRecord): Alert {
  const record = toFieldRecord(fields);
  const version = requireField(record, 'v');
  const upcast = alertUpcasters[version];
  if (!upcast) {
    throw new InvalidEventError(
      'v',
      `is an unknown version ${quote(version)} (known: ${Object.keys(alertUpcasters).join(', ')})`,
    );
  }
  const current = upcast(record);
  const alert = {
    id: requireField(current, 'id'),
    ruleId: requireField(current, 'ruleId'),
    deviceId: requireField(current, 'deviceId'),
    metric: requireField(current, 'metric'),
    ...(current.value === undefined ? {} : { value: parseFiniteNumber('value', current.value) }),
    ...(current.threshold === undefined ? {} : { threshold: parseFiniteNumber('threshold', current.threshold) }),
    state: requireField(current, 'state'),
    severity: requireField(current, 'severity'),
    ts: parseEpochMs('ts', requireField(current, 'ts')),
    readingId: requireField(current, 'readingId'),
    ...(current.note === undefined ? {} : { note: current.note }),
    ...(current.quiet === undefined ? {} : { quiet: current.quiet === '1' }),
  };
  assertSchema(alertCheck, alert);
  return alert as Alert;
}
