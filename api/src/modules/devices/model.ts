import { GLOB_PATTERN } from 'core';
import { t } from 'elysia';
import { HistoryAlert } from '../alerts/model.ts';
import { isoTime, name } from '../readings/model.ts';

/** A device is offline when its newest reading is older than this (default), or an absence rule calls it silent. */
export const DEFAULT_OFFLINE_AFTER_MS = 5 * 60_000;

export const DeviceListQuery = t.Object(
  {
    device: t.Optional(
      t.String({ minLength: 1, maxLength: 128, pattern: GLOB_PATTERN, description: 'Device id or glob (`pump-*`)' }),
    ),
    status: t.Optional(t.Union([t.Literal('online'), t.Literal('offline')])),
    offlineAfterMs: t.Optional(
      t.String({
        pattern: '^[0-9]{1,10}$',
        description: 'Offline when its newest reading is older than this (1 s – 30 days; default 300000)',
      }),
    ),
    limit: t.Optional(t.String({ pattern: '^[0-9]{1,7}$', description: 'Devices per page, 1–200 (default 50)' })),
    cursor: t.Optional(name(128, 'nextCursor of the previous page')),
  },
  { additionalProperties: false },
);

export const DeviceParams = t.Object({ id: name(128, 'The device id') });

export const DeviceQuery = t.Object(
  { offlineAfterMs: DeviceListQuery.properties.offlineAfterMs },
  { additionalProperties: false },
);

const DeviceMetricView = t.Object({
  metric: t.String(),
  value: t.Number({ description: 'Its newest reading’s value' }),
  unit: t.String(),
  ts: isoTime('When its newest reading was taken'),
  readingId: t.String(),
});

export const DeviceView = t.Object({
  deviceId: t.String(),
  firstSeen: isoTime('Its first reading: when taken, or when it arrived if that is earlier'),
  lastSeen: isoTime('Its newest reading, counted the same way'),
  status: t.Union([t.Literal('online'), t.Literal('offline')]),
  silentBy: t.Array(t.String(), { description: 'The absence rules calling it silent now' }),
  metrics: t.Array(DeviceMetricView, { description: 'Each metric with its newest reading, by name (at most 64)' }),
  metricsNotListed: t.Integer({ description: 'Metrics seen past the 64 listed' }),
});

export const DevicePage = t.Object({
  devices: t.Array(DeviceView),
  nextCursor: t.Union([t.String(), t.Null()], {
    description: 'Pass as cursor for the next page (a page may hold fewer than limit); null on the last page',
  }),
});

export const DeviceDetail = t.Object({
  ...DeviceView.properties,
  firing: t.Array(HistoryAlert, {
    description: 'Its alerts firing now: the newest transition of each rule and metric, among its latest 500',
  }),
});
