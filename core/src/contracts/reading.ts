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

/**
 * The version every encoder writes. Decoders accept every version in `readingDecoders`.
 * v1: one stream field per reading field (`v id deviceId metric value unit ts`).
 * v2: two fields, `v` and `r`, where `r` is the JSON array `[id, deviceId, metric, value, unit, ts]`.
 * Same content, a third of the strings per entry: Redis, ioredis and the decoders handle 4 strings
 * instead of 14, which cut the pipeline's CPU per reading (see BENCHMARKS.md).
 */
export const READING_VERSION = '2';

/** Device ids, metric names and event ids share one safe alphabet (no spaces, no quotes). */
export const NAME_PATTERN = '^[A-Za-z0-9._:-]+$';

/** Units are free text (`°C`, `km/h`) but carry no control characters (NUL, newlines, escapes). */
export const UNIT_PATTERN = '^[^\\x00-\\x1f\\x7f]*$';

/**
 * A reading dated more than this ahead of the receiver's clock is refused at every door (producer,
 * API, consumers): a device clock that far off would poison time windows and alert order.
 */
export const MAX_FUTURE_MS = 24 * 60 * 60 * 1_000;

export const ReadingSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    deviceId: Type.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN }),
    metric: Type.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN }),
    // TypeBox's Number already refuses NaN and ±Infinity.
    value: Type.Number(),
    unit: Type.String({ maxLength: 32, pattern: UNIT_PATTERN }),
    ts: Type.Integer({ minimum: 0, maximum: MAX_EPOCH_MS }),
  },
  { additionalProperties: false },
);

/** One measurement of one device, as it travels through the pipeline. `ts` is epoch ms. */
export type Reading = Static<typeof ReadingSchema>;

const readingCheck = TypeCompiler.Compile(ReadingSchema);

/**
 * Throws InvalidEventError naming the first bad field, or a `ts` more than MAX_FUTURE_MS ahead of
 * `nowMs` (the receiver's clock); returns the value typed as a Reading.
 */
export function validateReading(candidate: unknown, nowMs: number = Date.now()): Reading {
  assertSchema(readingCheck, candidate);
  const reading = candidate as Reading;
  if (reading.ts > nowMs + MAX_FUTURE_MS) {
    // The schema bounds ts by MAX_EPOCH_MS, so it is always a valid Date.
    throw new InvalidEventError(
      'ts',
      `is more than 24 hours ahead of this receiver's clock (device clock?), got ${new Date(reading.ts).toISOString()}`,
    );
  }
  return reading;
}

/** The positions in a v2 `r` array. Order is part of the contract. */
const V2_FIELDS = ['id', 'deviceId', 'metric', 'value', 'unit', 'ts'] as const;

/** v1: one stream field per reading field, numbers as decimal strings. */
function decodeV1(record: FieldRecord): unknown {
  return {
    id: requireField(record, 'id'),
    deviceId: requireField(record, 'deviceId'),
    metric: requireField(record, 'metric'),
    value: parseFiniteNumber('value', requireField(record, 'value')),
    unit: requireField(record, 'unit'),
    ts: parseEpochMs('ts', requireField(record, 'ts')),
  };
}

/** v2: the JSON array in `r`; types and ranges are then checked by the schema like any version. */
function decodeV2(record: FieldRecord): unknown {
  return fromV2Array(requireField(record, 'r'));
}

/** A parsed v2 array (or a frame's element) as a candidate reading, before the schema check. */
export function fromReadingArray(parsed: unknown, raw: () => string, field = 'r'): unknown {
  if (!Array.isArray(parsed) || parsed.length !== V2_FIELDS.length) {
    throw new InvalidEventError(field, `must be a JSON array [${V2_FIELDS.join(', ')}], got ${quote(raw())}`);
  }
  return { id: parsed[0], deviceId: parsed[1], metric: parsed[2], value: parsed[3], unit: parsed[4], ts: parsed[5] };
}

function fromV2Array(raw: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  return fromReadingArray(parsed, () => raw);
}

/**
 * Each known wire version and how to read it into the current Reading shape. This map is the one
 * place where old events are upcast: adding version N means adding `'N': fields => ...` here (and
 * a contract test with a pinned version-N entry), so events already in a stream stay readable.
 */
const readingDecoders: Readonly<Record<string, (fields: FieldRecord) => unknown>> = {
  '1': decodeV1,
  '2': decodeV2,
};

/** Known wire versions, oldest first. */
export const KNOWN_READING_VERSIONS = Object.freeze(Object.keys(readingDecoders));

/** The Redis stream field list for a reading, current version. Field order is part of the contract. */
export function encodeReading(reading: Reading): string[] {
  return ['v', READING_VERSION, 'r', encodeReadingPayload(reading)];
}

/** The current version's `r` field: the reading as a JSON array in the contract's order. */
export function encodeReadingPayload(reading: Reading): string {
  return JSON.stringify([reading.id, reading.deviceId, reading.metric, reading.value, reading.unit, reading.ts]);
}

/** The v1 field list: for tests that pin old events, and for writing to consumers not yet upgraded. */
export function encodeReadingV1(reading: Reading): string[] {
  return [
    'v',
    '1',
    'id',
    reading.id,
    'deviceId',
    reading.deviceId,
    'metric',
    reading.metric,
    'value',
    String(reading.value),
    'unit',
    reading.unit,
    'ts',
    String(reading.ts),
  ];
}

/**
 * Decodes a stream entry's fields (any known version) into a Reading.
 * Unknown extra fields are ignored so that a newer producer does not break an older consumer.
 * @throws InvalidEventError naming the missing or bad field.
 */
export function decodeReading(fields: FieldList | FieldRecord): Reading {
  // The common case, exactly what encodeReading writes, skips building a record.
  if (Array.isArray(fields) && fields.length === 4 && fields[0] === 'v' && fields[1] === '2' && fields[2] === 'r') {
    return validateReading(fromV2Array(fields[3] as string));
  }
  const record = toFieldRecord(fields);
  const version = requireField(record, 'v');
  const decode = readingDecoders[version];
  if (version === '3')
    throw new InvalidEventError(
      'v',
      'is 3: a frame of readings, which decodeReadings reads (decodeReading reads an entry of one reading)',
    );
  if (!decode) {
    throw new InvalidEventError(
      'v',
      `is an unknown version ${quote(version)} (known: ${KNOWN_READING_VERSIONS.join(', ')})`,
    );
  }
  return validateReading(decode(record));
}
