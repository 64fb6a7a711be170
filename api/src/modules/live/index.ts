import { NAME_PATTERN } from 'core';
import { Elysia, t } from 'elysia';
import { ApiError } from '../../errors.ts';
import type { AlertsFeed } from './alerts-feed.ts';
import type { ReadingsFeed } from './readings-feed.ts';
import type { StreamLimits } from './stream-limits.ts';
import { errorResponses, textResponse } from '../docs/responses.ts';

/** The remote address a request came from; one shared key where there is no socket (in-process tests). */
function clientAddress(
  server: { requestIP(request: Request): { address: string } | null } | null,
  request: Request,
): string {
  return server?.requestIP(request)?.address ?? 'unknown';
}

const name = (maxLength: number) => t.Optional(t.String({ minLength: 1, maxLength, pattern: NAME_PATTERN }));
/** A read token for EventSource, which cannot send headers: short-lived (see auth.ts). */
const ACCESS_TOKEN = t.Optional(
  t.String({
    maxLength: 4_096,
    description: 'A device read token expiring within an hour, for clients that cannot send an Authorization header',
  }),
);
const PUBLIC = new URL('../../../public/', import.meta.url).pathname;

/**
 * Server-Sent Events (the last 100, then live; resume with Last-Event-ID) and the dashboard page,
 * served from the api package: no CDN, works offline.
 */
export function liveRoutes(readings: ReadingsFeed, alerts: AlertsFeed | undefined, limits: StreamLimits) {
  return new Elysia({ name: 'live', detail: { tags: ['live'] } })
    .get(
      '/readings/stream',
      async ({ query, request, server }) => {
        const release = limits.admit(clientAddress(server, request));
        try {
          return await readings.subscribe(query, request.headers.get('last-event-id'), release);
        } catch (error) {
          release();
          throw error;
        }
      },
      {
        query: t.Object(
          { deviceId: name(128), metric: name(64), access_token: ACCESS_TOKEN },
          { additionalProperties: false },
        ),
        detail: {
          summary: 'Readings as Server-Sent Events: the last 100, then each one as it is stored',
          description: 'Each event: `id` (resume with Last-Event-ID), `data` a stored reading as JSON.',
          responses: {
            200: textResponse('An endless event stream', 'text/event-stream'),
            ...errorResponses(401, 403, 422, 429, 503),
          },
        },
      },
    )
    .get(
      '/alerts/stream',
      async ({ query, request, server }) => {
        if (!alerts)
          throw new ApiError(503, 'no_redis', 'alerts are read from Redis, which this API has not been given');
        const release = limits.admit(clientAddress(server, request));
        try {
          return await alerts.subscribe(query.deviceId, request.headers.get('last-event-id'), release);
        } catch (error) {
          release();
          throw error;
        }
      },
      {
        query: t.Object({ deviceId: name(128), access_token: ACCESS_TOKEN }, { additionalProperties: false }),
        detail: {
          summary: 'Alert transitions as Server-Sent Events: the last 100, then live',
          description: 'Each event: `id` (resume with Last-Event-ID), `data` an alert transition as JSON.',
          responses: {
            200: textResponse('An endless event stream', 'text/event-stream'),
            ...errorResponses(401, 403, 422, 429, 503),
          },
        },
      },
    )
    .get(
      '/',
      () => new Response(Bun.file(`${PUBLIC}index.html`), { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      { detail: { hide: true } },
    )
    .get(
      '/dashboard.js',
      () =>
        new Response(Bun.file(`${PUBLIC}dashboard.js`), {
          headers: { 'content-type': 'text/javascript; charset=utf-8' },
        }),
      { detail: { hide: true } },
    )
    .get(
      '/dashboard.css',
      () =>
        new Response(Bun.file(`${PUBLIC}dashboard.css`), { headers: { 'content-type': 'text/css; charset=utf-8' } }),
      { detail: { hide: true } },
    );
}
