import {
  GLOB_PATTERN,
  type Silence,
  newEventId,
  parseIsoTime,
  readSilences,
  redisNowMs,
  replicated,
  alertKeys,
} from 'core';
import { Elysia, t } from 'elysia';
import type Redis from 'ioredis';
import { ApiError, invalidField } from '../../errors.ts';
import { redisAnswers503 } from '../../redis-unavailable.ts';
import { isoTime } from '../readings/model.ts';
import { errorResponses, jsonResponse } from '../docs/responses.ts';

/** A silence longer than this is a rule change in disguise: change the rules instead. */
const MAX_SILENCE_MS = 366 * 24 * 60 * 60 * 1_000;
/** Ended silences are listed (and kept, for the history's sake) this long. */
const KEEP_ENDED_MS = 7 * 24 * 60 * 60 * 1_000;
/** Silences kept at once, ended ones included: a bound on what every notifier batch reads. */
const MAX_SILENCES = 1_000;

const glob = (description: string) =>
  t.Optional(t.String({ minLength: 1, maxLength: 128, pattern: GLOB_PATTERN, description }));

const NewSilence = t.Object(
  {
    device: glob('Device id or glob (`*` any run of characters); default every device'),
    rule: glob('Rule id or glob; default every rule'),
    metric: glob('Metric or glob; default every metric'),
    from: t.Optional(isoTime('Start; default now (a silence never reaches back before it was made)')),
    until: isoTime('End, exclusive'),
    reason: t.String({ minLength: 1, maxLength: 500, description: 'Why: shown beside the alerts it holds back' }),
    author: t.String({ minLength: 1, maxLength: 128, description: 'Who' }),
  },
  { additionalProperties: false },
);

const SILENCE_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    device: { type: 'string' },
    rule: { type: 'string' },
    metric: { type: 'string' },
    from: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    reason: { type: 'string' },
    author: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    endedAt: { type: ['string', 'null'], format: 'date-time' },
    state: { type: 'string', enum: ['pending', 'active', 'ended'] },
  },
};

const iso = (ms: number) => new Date(ms).toISOString();
const stateAt = (silence: Silence, now: number) =>
  now >= silence.until ? 'ended' : now < Math.max(silence.from, silence.createdAt) ? 'pending' : 'active';
const view = (silence: Silence, now: number) => ({
  ...silence,
  from: iso(silence.from),
  until: iso(silence.until),
  createdAt: iso(silence.createdAt),
  endedAt: silence.endedAt === undefined ? null : iso(silence.endedAt),
  state: stateAt(silence, now),
});

/**
 * Silences: alerts matching one, raised while it is in force, are recorded in the history marked
 * silenced and not notified; when it ends, each device it covered still firing is notified once.
 * Kept in Redis, where the notifier and the history read them; times on Redis's clock (that of
 * the alerts' raise times). DELETE ends a silence now and keeps it (listed as ended for a week),
 * so what it held back stays explained.
 */
export function silenceRoutes(options: { redis: Redis; alertsStream: string } | undefined) {
  const unavailable = redisAnswers503('silences_unavailable', 'silences');
  const redisCall = <T>(call: (redis: Redis, key: string, all: () => Promise<Silence[]>) => Promise<T>): Promise<T> => {
    if (!options) throw unavailable.none();
    const { redis, alertsStream } = options;
    return unavailable.call(() =>
      call(redis, alertKeys(redis, alertsStream).silences, () => readSilences(redis, alertsStream)),
    );
  };

  return new Elysia({ name: 'silences', prefix: '/silences', detail: { tags: ['alerting'] } })
    .post(
      '/',
      async ({ body, set }) =>
        redisCall(async (redis, key, all) => {
          const now = await redisNowMs(redis);
          const from = body.from === undefined ? now : parseIsoTime(body.from);
          const until = parseIsoTime(body.until);
          if (!Number.isFinite(from)) throw invalidField('from', 'is not a valid date-time');
          if (!Number.isFinite(until)) throw invalidField('until', 'is not a valid date-time');
          if (until <= Math.max(from, now)) throw invalidField('until', 'must be after from and after now');
          if (until - Math.max(from, now) > MAX_SILENCE_MS)
            throw invalidField('until', 'must be within a year: for longer, change the rules (PUT /rules)');
          const stored = await all();
          // Ended a week ago: forgotten, which keeps what every notifier batch reads small.
          const old = stored.filter((silence) => silence.until < now - KEEP_ENDED_MS).map((silence) => silence.id);
          if (old.length > 0) await redis.hdel(key, ...old);
          if (stored.length - old.length >= MAX_SILENCES) {
            throw new ApiError(
              429,
              'too_many_silences',
              `${MAX_SILENCES} silences are kept already (ended ones for a week): end or wait out some first`,
              undefined,
              { 'retry-after': '60' },
            );
          }
          const silence: Silence = {
            id: newEventId(),
            device: body.device ?? '*',
            rule: body.rule ?? '*',
            metric: body.metric ?? '*',
            from,
            until,
            reason: body.reason,
            author: body.author,
            createdAt: now,
          };
          await replicated(redis, () => redis.hset(key, silence.id, JSON.stringify(silence)));
          set.status = 201;
          set.headers.location = `/silences/${silence.id}`;
          return view(silence, now);
        }),
      {
        body: NewSilence,
        detail: {
          summary: 'Silence alerts of matching devices, rules and metrics for a while',
          responses: {
            201: jsonResponse('The silence', SILENCE_VIEW),
            ...errorResponses(400, 401, 413, 422, 429, 503),
          },
        },
      },
    )
    .get(
      '/',
      ({ query }) =>
        redisCall(async (redis, _key, all) => {
          const now = await redisNowMs(redis);
          const silences = (await all())
            .filter((silence) => silence.until >= now - KEEP_ENDED_MS)
            .sort((a, b) => b.from - a.from || (a.id < b.id ? 1 : -1));
          const views = silences.map((silence) => view(silence, now));
          return { silences: query.state ? views.filter((silence) => silence.state === query.state) : views };
        }),
      {
        query: t.Object(
          { state: t.Optional(t.Union([t.Literal('pending'), t.Literal('active'), t.Literal('ended')])) },
          { additionalProperties: false },
        ),
        detail: {
          summary: 'Silences: pending, active, and those ended within a week, newest first',
          responses: {
            200: jsonResponse('Silences', {
              type: 'object',
              properties: { silences: { type: 'array', items: SILENCE_VIEW } },
            }),
            ...errorResponses(401, 422, 503),
          },
        },
      },
    )
    .delete(
      '/:id',
      ({ params }) =>
        redisCall(async (redis, key) => {
          const text = await redis.hget(key, params.id);
          if (text === null)
            throw new ApiError(404, 'not_found', `no silence with id ${JSON.stringify(params.id.slice(0, 64))}`);
          const silence = JSON.parse(text) as Silence;
          const now = await redisNowMs(redis);
          if (silence.until > now) {
            silence.until = Math.max(now, Math.max(silence.from, silence.createdAt));
            silence.endedAt = now;
            await replicated(redis, () => redis.hset(key, silence.id, JSON.stringify(silence)));
          }
          return view(silence, now);
        }),
      {
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        detail: {
          summary: 'End a silence now (it stays listed as ended for a week)',
          responses: { 200: jsonResponse('The silence, ended', SILENCE_VIEW), ...errorResponses(401, 404, 422, 503) },
        },
      },
    );
}
