import { Elysia, t } from 'elysia';
import type { Db } from '../../db/client.ts';
import { parseFilter } from '../readings/filters.ts';
import { readingFilters } from '../readings/model.ts';
import { computeStats } from './service.ts';

const StatsQuery = t.Object(
  {
    ...readingFilters,
    threshold: t.Optional(t.String({ pattern: '^-?[0-9]{1,15}(\\.[0-9]{1,10})?$', description: 'Over-threshold counts per device use value > threshold (default 50)' })),
  },
  { additionalProperties: false },
);

export function statsRoutes(db: Db) {
  return new Elysia({ name: 'stats', detail: { tags: ['stats'] } }).get(
    '/stats',
    ({ query }) => computeStats(db, parseFilter(query), query.threshold === undefined ? 50 : Number(query.threshold)),
    {
      query: StatsQuery,
      detail: { summary: 'Count, min/max/mean, most frequent value(s), readings per minute, per device' },
    },
  );
}
