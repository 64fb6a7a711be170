import { Elysia, t } from 'elysia';
import type { ReadingsStore } from '../../storage/port.ts';
import { parseFilter } from '../readings/filters.ts';
import { readingFilters } from '../readings/model.ts';
import { invalidField } from '../../errors.ts';
import { NAME_PATTERN } from 'core';
import { errorResponses, jsonResponse } from '../docs/responses.ts';

/** Devices per answer unless asked otherwise, and at most: an answer stays small with 100k devices. */
export const DEFAULT_DEVICE_LIMIT = 100;
export const MAX_DEVICE_LIMIT = 1_000;

const StatsQuery = t.Object(
  {
    ...readingFilters,
    threshold: t.Optional(t.String({ pattern: '^-?[0-9]{1,15}(\\.[0-9]{1,10})?$', description: 'Over-threshold counts per device use value > threshold (default 50)' })),
    deviceLimit: t.Optional(t.String({ pattern: '^[0-9]{1,7}$', description: `Devices in perDevice, 0–${MAX_DEVICE_LIMIT} (default ${DEFAULT_DEVICE_LIMIT})` })),
    deviceAfter: t.Optional(t.String({ minLength: 1, maxLength: 128, pattern: NAME_PATTERN, description: 'The next page of perDevice: the last deviceId of the previous one' })),
  },
  { additionalProperties: false },
);

export function statsRoutes(store: ReadingsStore) {
  return new Elysia({ name: 'stats', detail: { tags: ['stats'] } }).get(
    '/stats',
    async ({ query }) => {
      const deviceLimit = query.deviceLimit === undefined ? DEFAULT_DEVICE_LIMIT : Number(query.deviceLimit);
      if (deviceLimit > MAX_DEVICE_LIMIT) throw invalidField('deviceLimit', `must be at most ${MAX_DEVICE_LIMIT}`);
      const threshold = query.threshold === undefined ? 50 : Number(query.threshold);
      return store.stats(parseFilter(query), threshold, { limit: deviceLimit, after: query.deviceAfter });
    },
    {
      query: StatsQuery,
      detail: {
        summary: 'Count, min/max/mean, most frequent value(s), readings per minute, per device',
        responses: { 200: jsonResponse('Statistics of the matching readings', { type: 'object' }), ...errorResponses(401, 422, 429, 503) },
      },
    },
  );
}
