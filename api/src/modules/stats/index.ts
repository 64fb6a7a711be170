import { Elysia, t } from 'elysia';
import type { ChangeFeed, ReadingStatistics, StoreLifecycle } from '../../storage/port.ts';
import { parseFilter } from '../readings/filters.ts';
import { readingFilters } from '../readings/model.ts';
import { invalidField } from '../../errors.ts';
import { NAME_PATTERN, globMatches } from 'core';
import type { RuleSummary } from '../system/pipeline.ts';
import { errorResponses, jsonResponse } from '../docs/responses.ts';
import { sharedStatsAnswers } from './shared-answers.ts';

/** Devices per answer unless asked otherwise, and at most: an answer stays small with 100k devices. */
export const DEFAULT_DEVICE_LIMIT = 100;
export const MAX_DEVICE_LIMIT = 1_000;

const StatsQuery = t.Object(
  {
    ...readingFilters,
    threshold: t.Optional(
      t.String({
        pattern: '^-?[0-9]{1,15}(\\.[0-9]{1,10})?$',
        description:
          'Over-threshold counts per device use value > threshold (default: the alerting rule for this metric and device, else 50)',
      }),
    ),
    deviceLimit: t.Optional(
      t.String({
        pattern: '^[0-9]{1,7}$',
        description: `Devices in perDevice, 0–${MAX_DEVICE_LIMIT} (default ${DEFAULT_DEVICE_LIMIT})`,
      }),
    ),
    deviceAfter: t.Optional(
      t.String({
        minLength: 1,
        maxLength: 128,
        pattern: NAME_PATTERN,
        description: 'The next page of perDevice: the last deviceId of the previous one',
      }),
    ),
    bucket: t.Optional(
      t.Union([t.Literal('minute'), t.Literal('hour'), t.Literal('day')], {
        description: "series' bucket (default by the window: minutes up to a day, hours up to 90 days, days beyond)",
      }),
    ),
  },
  { additionalProperties: false },
);

/** When no threshold is asked for and no alerting rule says one. */
export const FALLBACK_THRESHOLD = 50;

/**
 * The threshold of the first rule that covers the filter's metric and device (a rule for every
 * device when the filter names none), as the alerting service runs it.
 */
export function ruleThreshold(
  rules: readonly RuleSummary[],
  filter: { metric?: string; deviceId?: string },
): number | undefined {
  const covers = (glob: string, value: string | undefined) =>
    glob === '*' || (value !== undefined && globMatches(glob, value));
  return rules.find(
    (rule) => rule.direction === 'above' && covers(rule.metric, filter.metric) && covers(rule.device, filter.deviceId),
  )?.threshold;
}

/** Every threshold /stats uses unless asked for another: 50, and each "above" rule's. */
export function defaultThresholds(rules: readonly RuleSummary[]): number[] {
  return [
    ...new Set([
      FALLBACK_THRESHOLD,
      ...rules.filter((rule) => rule.direction === 'above').map((rule) => rule.threshold),
    ]),
  ];
}

export function statsRoutes(
  store: ReadingStatistics & Pick<ChangeFeed, 'onChange'> & Pick<StoreLifecycle, 'backend'>,
  rules: () => readonly RuleSummary[] | Promise<readonly RuleSummary[]> = () => [],
) {
  // On SQLite identical asks share a read under way (see shared-answers.ts for why only there).
  const statsJson = store.backend === 'sqlite' ? sharedStatsAnswers(store) : store.statsJson.bind(store);
  return new Elysia({ name: 'stats', detail: { tags: ['stats'] } }).get(
    '/stats',
    async ({ query, set }) => {
      const deviceLimit = query.deviceLimit === undefined ? DEFAULT_DEVICE_LIMIT : Number(query.deviceLimit);
      if (deviceLimit > MAX_DEVICE_LIMIT) throw invalidField('deviceLimit', `must be at most ${MAX_DEVICE_LIMIT}`);
      let threshold = Number(query.threshold);
      if (query.threshold === undefined) {
        const current = rules();
        threshold = ruleThreshold(Array.isArray(current) ? current : await current, query) ?? FALLBACK_THRESHOLD;
      }
      // Made into JSON where it was worked out (see ReadingStatistics.statsJson), and answered as
      // text: Elysia would copy a Response's body through a stream of its own.
      set.headers['content-type'] = 'application/json';
      return statsJson(parseFilter(query), threshold, { limit: deviceLimit, after: query.deviceAfter }, query.bucket);
    },
    {
      query: StatsQuery,
      detail: {
        summary:
          'Count, min/max/mean, most frequent value(s), readings per minute, a series of ≤ 2,000 buckets, per device',
        responses: {
          200: jsonResponse('Statistics of the matching readings', { type: 'object' }),
          ...errorResponses(401, 422, 429, 503),
        },
      },
    },
  );
}
