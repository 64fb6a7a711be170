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
import { assertSchema } from './schema-errors.ts';

/** The version every encoder writes. Decoders accept every version in `readingUpcasters`. */
export const READING_VERSION = '1';

/** Device ids, metric names and event ids share one safe alphabet (no spaces, no quotes). */
export const NAME_PATTERN = '^[A-Za-z0-9._:-]+$';

export const ReadingSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    deviceId: Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN }),
    metric: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    // TypeBox's Number already refuses NaN and ±Infinity.
    value: Type.Number(),
    unit: Type.String({ maxLength: 32 }),
    ts: Type.Integer({ minimum: 0, maximum: MAX_EPOCH_MS }),
  },
  { additionalProperties: false },
);

/** One measurement of one device, as it travels through the pipeline. `ts` is epoch ms. */
export type Reading = Static<typeof ReadingSchema>;

const readingCheck = TypeCompiler.Compile(ReadingSchema);

/** Throws InvalidEventError naming the first bad field; returns the value typed as a Reading. */
export function validateReading(candidate: unknown): Reading {
  assertSchema(readingCheck, candidate);
  return candidate as Reading;
}

/**
 * Turns the fields of an older version into the fields of the current one. This map is the one
 * place where old events are upcast: adding version N means adding `'N-1': fields => ...` here
 * (and a contract test with a pinned N-1 event), so events already in a stream stay readable.
 */
const readingUpcasters: Readonly<Record<string, (fields: FieldRecord) => FieldRecord>> = {
  '1': (fields) => fields,
};

/** Known wire versions, oldest first. */
export const KNOWN_READING_VERSIONS = Object.freeze(Object.keys(readingUpcasters));

/** The Redis stream field list for a reading, current version. Field order is part of the contract. */
export function encodeReading(reading: Reading): string[] {
  return [
    'v', READING_VERSION,
    'id', reading.id,
    'deviceId', reading.deviceId,
    'metric', reading.metric,
    'value', String(reading.value),
    'unit', reading.unit,
    'ts', String(reading.ts),
  ];
}

/**
 * Decodes a stream entry's fields (any known version) into a Reading.
 * Unknown extra fields are ignored so that a newer producer does not break an older consumer.
 * @throws InvalidEventError naming the missing or bad field.
 */
export function decodeReading(fields: FieldList | FieldRecord): Reading {
  const record = toFieldRecord(fields);
  const version = requireField(record, 'v');
  const upcast = readingUpcasters[version];
  if (!upcast) {
    throw new InvalidEventError('v', `is an unknown version ${quote(version)} (known: ${KNOWN_READING_VERSIONS.join(', ')})`);
  }
  const current = upcast(record);
  const reading = {
    id: requireField(current, 'id'),
    deviceId: requireField(current, 'deviceId'),
    metric: requireField(current, 'metric'),
    value: parseFiniteNumber('value', requireField(current, 'value')),
    unit: requireField(current, 'unit'),
    ts: parseEpochMs('ts', requireField(current, 'ts')),
  };
  return validateReading(reading);
}
