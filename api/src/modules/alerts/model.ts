import { AlertSchema } from 'core';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { t } from 'elysia';
import { isoTime, name } from '../readings/model.ts';

const { ts: _ts, ...alertFields } = AlertSchema.properties;

/** An alert transition as the API speaks it: the alert's contract, times as ISO-8601. */
export const HistoryAlert = t.Object(
  {
    ...alertFields,
    value: t.Union([t.Number(), t.Null()], { description: 'The reading’s value; null for absence alerts' }),
    threshold: t.Union([t.Number(), t.Null()], { description: 'The rule’s threshold; null for absence alerts' }),
    ts: isoTime('When the reading that caused it was measured (absence: when the device became silent)'),
    note: t.Union([t.String({ maxLength: 300 }), t.Null()], {
      description: 'Why it was raised other than by a reading (a rule removed, a silence ended, flapping)',
    }),
    silenced: t.Boolean({ description: 'A silence covered it: recorded, not notified' }),
    quiet: t.Boolean({ description: 'Recorded without a notification (a flapping device)' }),
    raisedAt: isoTime('When the evaluator raised it'),
    ackedBy: t.Optional(t.Union([t.String({ maxLength: 128 }), t.Null()], { description: 'Who acknowledged it' })),
    ackedAt: t.Optional(t.Union([t.String({ format: 'date-time' }), t.Null()], { description: 'When' })),
    ackNote: t.Optional(t.Union([t.String({ maxLength: 500 }), t.Null()], { description: 'Why, as they said' })),
  },
  { additionalProperties: false },
);

export const AlertAckBody = t.Object(
  {
    author: t.String({ minLength: 1, maxLength: 128, description: 'Who acknowledges it' }),
    note: t.Optional(t.String({ maxLength: 500, description: 'Why, or what is being done' })),
  },
  { additionalProperties: false },
);

export const MAX_ALERT_BATCH = 5_000;

/** Items are checked one by one, so one bad alert costs that alert only. */
export const HistoryBatch = t.Object(
  {
    alerts: t.Array(t.Unknown({ description: 'An alert as GET /alerts lists them' }), {
      minItems: 1,
      maxItems: MAX_ALERT_BATCH,
    }),
  },
  { additionalProperties: false },
);
export const historyAlertCheck = TypeCompiler.Compile(HistoryAlert);

const count = (description: string) => Type.Integer({ description });
export const HistoryBatchResult = t.Object({
  inserted: count('Alerts stored now'),
  duplicates: count('Alerts whose id was already stored'),
  refused: t.Array(t.Object({ index: Type.Integer(), path: t.String(), message: t.String() }), {
    description: 'Items not stored because they are invalid, by index',
  }),
});

export const AlertListQuery = t.Object(
  {
    deviceId: t.Optional(name(128, 'Only this device')),
    ruleId: t.Optional(name(128, 'Only this rule')),
    state: t.Optional(t.Union([t.Literal('firing'), t.Literal('resolved')])),
    from: t.Optional(isoTime('From this reading time, inclusive')),
    to: t.Optional(isoTime('Up to this reading time, exclusive')),
    limit: t.Optional(t.String({ pattern: '^[0-9]{1,7}$', description: 'Alerts per page, 1–1000 (default 100)' })),
    cursor: t.Optional(t.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);

export const AlertPage = t.Object({
  alerts: t.Array(HistoryAlert),
  nextCursor: t.Union([t.String(), t.Null()], {
    description: 'Pass as cursor for the next page; null on the last page',
  }),
});
