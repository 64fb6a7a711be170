import { type Logger, createLogger } from 'core';
import { Elysia } from 'elysia';
import { requireToken } from './auth.ts';
import type { ApiConfig } from './config.ts';
import type { Db } from './db/client.ts';
import { ApiError, apiErrorResponse, errorHandler } from './errors.ts';
import { createApiMetrics } from './metrics.ts';
import { docsRoutes } from './modules/docs/index.ts';
import { readingsRoutes } from './modules/readings/index.ts';
import { createReadingsService } from './modules/readings/service.ts';
import { statsRoutes } from './modules/stats/index.ts';
import { systemRoutes } from './modules/system/index.ts';
import type { PipelineOptions } from './modules/system/pipeline.ts';
import { createAlertsFeed } from './modules/live/alerts-feed.ts';
import { liveRoutes } from './modules/live/index.ts';
import { createReadingsFeed } from './modules/live/readings-feed.ts';
import type Redis from 'ioredis';

export interface AppOptions {
  db: Db;
  config: Pick<ApiConfig, 'apiToken' | 'readToken' | 'maxBodyBytes'> & { faultRate?: number };
  logger?: Logger;
  /** Redis and what to watch there, for /health and /metrics of the whole pipeline. */
  pipeline?: PipelineOptions;
  /** A Redis connection free to block, and the alerts stream: for /alerts/stream. */
  alertsFeed?: { blockingRedis: Redis; stream: string };
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const VERSION = '0.1.0';

/** Paths whose reads READ_TOKEN protects, when set; health, metrics and docs stay open. */
const isDataPath = (path: string) => path === '/stats' || path === '/readings' || path.startsWith('/readings/');

/** The API as an Elysia app: tests call `app.handle(request)`, index.ts calls `listen`. */
export function createApp({ db, config, logger = createLogger({ service: 'api' }), pipeline, alertsFeed }: AppOptions) {
  const readingsFeed = createReadingsFeed(db);
  const alerts = alertsFeed && pipeline ? createAlertsFeed({ redis: pipeline.redis, ...alertsFeed }) : undefined;
  const metrics = createApiMetrics({ readings: () => readingsFeed.clients, alerts: () => alerts?.clients ?? 0 });
  const startedAt = new WeakMap<Request, number>();

  const service = createReadingsService(db, ({ inserted, duplicates }) => {
    metrics.stored.inc(inserted);
    metrics.duplicates.inc(duplicates);
    if (inserted > 0) readingsFeed.notify();
  });

  return (
    new Elysia({ normalize: false, serve: { maxRequestBodySize: config.maxBodyBytes } })
      .use(errorHandler(logger))
      // Size and tokens are checked before routing and parsing: an unauthenticated client cannot
      // make the server read a large body.
      .onRequest(({ request }) => {
        startedAt.set(request, performance.now());
        const length = Number(request.headers.get('content-length') ?? 0);
        if (length > config.maxBodyBytes) {
          return apiErrorResponse(new ApiError(413, 'body_too_large', `request body is over ${config.maxBodyBytes} bytes (MAX_BODY_BYTES)`));
        }
        // FAULT_RATE: fail a share of writes on purpose, to show that the pipeline loses nothing.
        if (config.faultRate && WRITE_METHODS.has(request.method) && Math.random() < config.faultRate) {
          return apiErrorResponse(new ApiError(503, 'injected_fault', `FAULT_RATE=${config.faultRate}: this write failed on purpose`));
        }
        try {
          if (WRITE_METHODS.has(request.method)) requireToken(request.headers.get('authorization'), config.apiToken, 'write');
          else if (config.readToken !== undefined && isDataPath(new URL(request.url).pathname)) requireToken(request.headers.get('authorization'), config.readToken, 'read');
        } catch (error) {
          return apiErrorResponse(error as ApiError);
        }
      })
      // Runs after the response is sent, so metrics cost the client nothing.
      .onAfterResponse(({ request, route, set }) => {
        const labels = { method: request.method, route: route || 'unmatched' };
        metrics.requests.inc({ ...labels, status: String(set.status ?? 200) });
        const started = startedAt.get(request);
        if (started !== undefined) metrics.duration.observe(labels, (performance.now() - started) / 1_000);
      })
      .use(docsRoutes(VERSION))
      .use(liveRoutes(readingsFeed, alerts))
      .use(readingsRoutes(service, (rows) => metrics.exported.inc(rows)))
      .use(statsRoutes(db))
      .use(systemRoutes(db, metrics, pipeline, VERSION))
  );
}

export type App = ReturnType<typeof createApp>;
