import { NAME_PATTERN, UNIT_PATTERN } from 'core';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type Static, t } from 'elysia';

export const name = (maxLength: number, description: string) =>
  t.String({ minLength: 1, maxLength, pattern: NAME_PATTERN, description });

/** ISO-8601 date-time (`2026-11-22T10:00:00.000Z`); offsets are accepted, answers are UTC. */
export const isoTime = (description: string) => t.String({ format: 'date-time', maxLength: 40, description });

export const readingFields = {
  deviceId: name(128, 'Device identity: letters, digits and . _ : -'),
  metric: name(64, 'What is measured, e.g. kwh, temp, speed'),
  value: t.Number({ description: 'The measurement (finite)' }),
  unit: t.String({ maxLength: 32, pattern: UNIT_PATTERN, description: 'e.g. kWh, °C, km/h; no control characters' }),
  ts: isoTime('When the device measured it'),
};

export const NewReading = t.Object(
  {
    id: t.Optional(name(64, 'Idempotency key made by the producer (UUIDv7); generated when absent')),
    ...readingFields,
  },
  { additionalProperties: false },
);
export type NewReading = Static<typeof NewReading>;

export const MAX_BATCH = 5_000;

/**
 * The batch body. Items are checked one by one (against NewReading) by the service, so that one
 * bad reading costs that reading only: the others are stored and the answer names the refused.
 */
export const NewReadingBatch = t.Object(
  {
    readings: t.Array(t.Unknown({ description: 'A reading as in POST /readings' }), {
      minItems: 1,
      maxItems: MAX_BATCH,
    }),
  },
  { additionalProperties: false },
);

/** The compact batch: the contract's arrays, as a frame holds them (consumer-store sends this). */
export const ReadingRows = t.Object(
  {
    rows: t.Array(
      t.Unknown({
        description: '[id, deviceId, metric, value, unit, ts] with ts in epoch ms: a frame element (contract v3)',
      }),
      {
        minItems: 1,
        maxItems: MAX_BATCH,
      },
    ),
  },
  { additionalProperties: false },
);

/** The compiled NewReading check, for batch items. */
export const newReadingCheck = TypeCompiler.Compile(NewReading);

export const ReadingPatch = t.Object(
  {
    value: t.Optional(readingFields.value),
    unit: t.Optional(readingFields.unit),
    metric: t.Optional(readingFields.metric),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ReadingPatch = Static<typeof ReadingPatch>;

export const StoredReading = t.Object({
  id: t.String(),
  ...readingFields,
  storedAt: isoTime('When the API committed it'),
});
export type StoredReading = Static<typeof StoredReading>;

/** Counts in an answer: TypeBox's integer (Elysia's `t.Integer` also takes strings, and says so in the document). */
const count = (description?: string) => Type.Integer(description ? { description } : {});

export const BatchResult = t.Object({
  inserted: count('Readings stored now'),
  duplicates: count('Readings whose id was already stored with the same content (or repeated so in the batch)'),
  conflicts: count('Readings whose id was already stored with other content: the stored version stays'),
  refused: t.Optional(
    t.Array(t.Object({ index: count(), path: t.String(), message: t.String() }), {
      description: 'Items not stored because they are invalid, by index in the batch',
    }),
  ),
  conflicted: t.Optional(
    t.Array(t.Object({ index: count(), id: t.String(), stored: StoredReading }), {
      description: 'The conflicts, by index in the batch, with the version that stays',
    }),
  ),
});

/** `limit` is parsed by hand so that `abc`, `-1` and `1e9` all get an error naming `limit`. */
const limitParam = t.String({ pattern: '^[0-9]{1,7}$', description: 'Rows per page, 1–1000 (default 100)' });

export const readingFilters = {
  deviceId: t.Optional(name(128, 'Only this device')),
  metric: t.Optional(name(64, 'Only this metric')),
  from: t.Optional(isoTime('From this time, inclusive')),
  to: t.Optional(isoTime('Up to this time, exclusive')),
};

export const ListQuery = t.Object(
  {
    ...readingFilters,
    limit: t.Optional(limitParam),
    cursor: t.Optional(t.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);

export const LatestQuery = t.Object({ limit: t.Optional(limitParam) }, { additionalProperties: false });

export const ExportQuery = t.Object(
  {
    ...readingFilters,
    format: t.Optional(t.Union([t.Literal('csv'), t.Literal('ndjson')], { description: 'Default csv' })),
  },
  { additionalProperties: false },
);

export const ReadingPage = t.Object({
  readings: t.Array(StoredReading),
  nextCursor: t.Union([t.String(), t.Null()], {
    description: 'Pass as cursor for the next page; null on the last page',
  }),
});

export const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
