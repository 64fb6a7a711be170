import { type DeviceGrant, type Logger, type TokenVerifier, createLogger, createTokenVerifier } from 'core';
import { type AnyElysia, Elysia } from 'elysia';
import { LINE_PROTOCOL_PATHS, bearerMatches, createAuthorizer } from './auth.ts';
import { type ApiConfig, DEFAULT_MAX_STREAM_CLIENTS, DEFAULT_MAX_STREAM_CLIENTS_PER_IP } from './config.ts';
import type { ReadingsStore } from './storage/port.ts';
import { ApiError, apiErrorResponse, errorHandler } from './errors.ts';
import { jsonBody } from './json-body.ts';
import { queryParams } from './query-params.ts';
import { createApiMetrics } from './metrics.ts';
import { type IngestOptions, ingestRoutes } from './modules/ingest/index.ts';
import { docsRoutes } from './modules/docs/index.ts';
import { type ImportsOptions, importRoutes } from './modules/imports/index.ts';
import { type AlertingOptions, alertRoutes } from './modules/alerts/index.ts';
import type { CompressionStatus } from './modules/system/reading-compression.ts';
import type { RetentionStatus } from './modules/system/reading-retention.ts';
import type { StorageIdentityWatch } from './modules/system/storage-identity.ts';
import { ruleRoutes } from './modules/rules/index.ts';
import { lineProtocolRoutes } from './modules/line-protocol/index.ts';
import { silenceRoutes } from './modules/silences/index.ts';
import { deviceRoutes } from './modules/devices/index.ts';
import { readingsRoutes } from './modules/readings/index.ts';
import { createReadingsService } from './modules/readings/service.ts';
import { statsRoutes } from './modules/stats/index.ts';
import { systemRoutes } from './modules/system/index.ts';
import { type PipelineOptions, activeRules } from './modules/system/pipeline.ts';
import { createPartitionedAlertsFeed } from './modules/live/alerts-feeds.ts';
import { liveRoutes } from './modules/live/index.ts';
import { createReadingsFeed } from './modules/live/readings-feed.ts';
import { createStreamLimits } from './modules/live/stream-limits.ts';
import type Redis from 'ioredis';

export interface AppOptions {
  /** Where readings are kept: any backend behind the storage port. */
  store: ReadingsStore;
  config: Pick<ApiConfig, 'apiToken' | 'readToken' | 'maxBodyBytes'> &
    Partial<Pick<ApiConfig, 'lineProtocolDeviceTag'>> &
    Partial<Pick<ApiConfig, 'maxStreamClients' | 'maxStreamClientsPerIp' | 'databaseStatementTimeoutMs'>> & {
      faultRate?: number;
    };
  logger?: Logger;
  /** Redis and what to watch there, for /health and /metrics of the whole pipeline. */
  pipeline?: PipelineOptions;
  /** For /alerts/stream: each partition of the alerts stream, with a Redis connection free to block on it. */
  alertsFeed?: ReadonlyArray<{ blockingRedis: Redis; stream: string }>;
  /** Redis and the readings stream, for POST /ingest. */
  ingest?: IngestOptions;
  /** Checks signed device tokens (TOKEN_SECRET / TOKEN_PUBLIC_KEY); default: none accepted. */
  tokens?: TokenVerifier;
  /** Import jobs (POST /imports), with Redis. */
  imports?: ImportsOptions;
  /** Redis and the alerts stream, where the rules and silences are kept (/rules, /silences). */
  alerting?: AlertingOptions;
  /** Raw-reading retention, for /health and /metrics. */
  retention?: () => RetentionStatus;
  /** Compression of cold readings (COMPRESS_AFTER_HOURS), for /health and /metrics. */
  compression?: () => CompressionStatus;
  /** Notices a database replaced or lost since the last start (needs Redis to remember it). */
  storageIdentity?: StorageIdentityWatch;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Bodies their handlers stream to disk, bounded by their own limit (IMPORT_MAX_BYTES). */
const STREAMED_PATHS: ReadonlySet<string> = new Set(['/imports']);
/** Route labels beside the routes themselves: one each, so a scan of random paths adds no series. */
const UNMATCHED_ROUTE = 'unmatched';
const REFUSED_BEFORE_ROUTING = 'refused_before_routing';
const VERSION = '0.1.0';

/**
 * What a read may see without READ_TOKEN, when it is set: the dashboard's page shell and /health
 * (status and reasons only). Exact paths, so that no spelling (trailing slash, case, encoding,
 * double slash) of another route can pass: everything else needs the token.
 */
export const PUBLIC_READ_PATHS: ReadonlySet<string> = new Set([
  '/',
  '/health',
  '/ping',
  '/dashboard.js',
  '/dashboard.css',
]);

/**
 * How long a connection may wait on its answer (Elysia sets Bun's idle timeout to 30 s; Bun's
 * limit is 255 s): past the storage's own budget, so that a long read is answered 503 with the
 * reason instead of its connection being dropped while the database still works on it.
 */
export function idleTimeoutSeconds(statementTimeoutMs = 30_000): number {
  return Math.min(255, Math.ceil(statementTimeoutMs / 1_000) + 10);
}

/** The API as an Elysia app: tests call `app.handle(request)`, index.ts calls `listen`. */
export function createApp({
  store,
  config,
  logger = createLogger({ service: 'api' }),
  pipeline,
  alertsFeed,
  ingest,
  tokens = createTokenVerifier({}),
  imports,
  alerting,
  retention,
  compression,
  storageIdentity,
}: AppOptions) {
  /** The alerting rules as consumer-alert reports them: /stats's default threshold. */
  const rules = pipeline ? activeRules(pipeline.redis) : () => [];
  const authorize = createAuthorizer({
    apiToken: config.apiToken,
    readToken: config.readToken,
    verifier: tokens,
    publicReadPaths: PUBLIC_READ_PATHS,
  });
  /** The device token a request came with, if any (POST /ingest checks each reading's device). */
  const grants = new WeakMap<Request, DeviceGrant>();
  const readingsFeed = createReadingsFeed(store);
  const alerts =
    alertsFeed && pipeline ? createPartitionedAlertsFeed({ redis: pipeline.redis, partitions: alertsFeed }) : undefined;
  const streamLimits = createStreamLimits({
    maxClients: config.maxStreamClients ?? DEFAULT_MAX_STREAM_CLIENTS,
    maxClientsPerAddress: config.maxStreamClientsPerIp ?? DEFAULT_MAX_STREAM_CLIENTS_PER_IP,
  });
  const metrics = createApiMetrics(
    {
      readings: () => readingsFeed.clients,
      alerts: () => alerts?.clients ?? 0,
      dropped: () => ({ readings: readingsFeed.dropped, alerts: alerts?.dropped ?? 0 }),
      refused: () => streamLimits.refused,
    },
    {
      oldestReadingTs: () => store.oldestReadingTs(),
      diskBytes: () => store.diskBytes(),
      retention,
      compression,
      wal: store.wal?.bind(store),
    },
  );
  /** True when the request may see everything a read can: READ_TOKEN unset, or presented. */
  const mayReadAll = (request: Request) =>
    config.readToken === undefined ||
    bearerMatches(request.headers.get('authorization'), config.readToken) ||
    grants.get(request)?.scopes.has('read') === true;
  const startedAt = new WeakMap<Request, number>();
  /** Every answer counted once, with its real status and a bounded route label. */
  const countRequest = (request: Request, route: string, status: number) => {
    metrics.requests.inc({ method: request.method, route, status: String(status) });
    const started = startedAt.get(request);
    if (started !== undefined)
      metrics.duration.observe({ method: request.method, route }, (performance.now() - started) / 1_000);
  };
  /** An answer given before routing (413, 401/403, an injected fault): the after-response hook never sees it. */
  const refuse = (request: Request, error: ApiError) => {
    const response = apiErrorResponse(error);
    countRequest(request, REFUSED_BEFORE_ROUTING, response.status);
    return response;
  };

  const service = createReadingsService(store, ({ inserted, duplicates, conflicts }, refused) => {
    metrics.stored.inc(inserted);
    metrics.duplicates.inc(duplicates);
    metrics.conflicts.inc(conflicts.length);
    metrics.refused.inc(refused);
  });

  /** Damaged stored data requests met (StorageDamagedError): /health stays degraded, naming the last. */
  const damage = { met: 0, last: '' };

  // The OpenAPI document is derived from the whole app, which docsRoutes is part of.
  let self: AnyElysia | undefined;
  const app =
    // reusePort off: a second API started on a port in use must fail, not share it.
    // The server takes bodies as large as an import; every other body is bounded by MAX_BODY_BYTES (onRequest, jsonBody).
    new Elysia({
      normalize: false,
      serve: {
        maxRequestBodySize: Math.max(config.maxBodyBytes, imports?.maxBytes ?? 0),
        reusePort: false,
        idleTimeout: idleTimeoutSeconds(config.databaseStatementTimeoutMs),
      },
    })
      .use(
        errorHandler(logger, (error) => {
          damage.met += 1;
          damage.last = error.message;
          metrics.damaged.inc();
        }),
      )
      .use(jsonBody(config.maxBodyBytes, STREAMED_PATHS, LINE_PROTOCOL_PATHS))
      // Size and tokens are checked before routing and parsing: an unauthenticated client cannot
      // make the server read a large body.
      .onRequest(({ request }) => {
        startedAt.set(request, performance.now());
        const length = Number(request.headers.get('content-length') ?? 0);
        if (length > config.maxBodyBytes && !STREAMED_PATHS.has(new URL(request.url).pathname)) {
          return refuse(
            request,
            new ApiError(413, 'body_too_large', `request body is over ${config.maxBodyBytes} bytes (MAX_BODY_BYTES)`),
          );
        }
        // FAULT_RATE: fail a share of writes on purpose, to show that the pipeline loses nothing.
        if (config.faultRate && WRITE_METHODS.has(request.method) && Math.random() < config.faultRate) {
          return refuse(
            request,
            new ApiError(503, 'injected_fault', `FAULT_RATE=${config.faultRate}: this write failed on purpose`),
          );
        }
        let checking: Promise<DeviceGrant | undefined> | undefined;
        try {
          // Every route, before routing: a parameter given twice is refused whoever asks.
          queryParams(request.url);
          checking = authorize(request);
        } catch (error) {
          return refuse(request, error as ApiError);
        }
        // Only a device token makes this asynchronous: the operator's and the read token are compared at once.
        if (checking) {
          return checking.then(
            (grant) => {
              if (grant) grants.set(request, grant);
            },
            (error) => {
              if (error instanceof ApiError) return refuse(request, error);
              throw error;
            },
          );
        }
      })
      // Runs after the response is sent, so metrics cost the client nothing.
      // The status is the answer's own — a Response's, an error's (Elysia's NotFoundError for an
      // unknown route, our ApiError), else set.status — so a 204, a 404 and a 503 count as such.
      .onAfterResponse(({ request, route, set, responseValue }) => {
        const own = (responseValue as { status?: unknown } | null)?.status;
        const status = typeof own === 'number' ? own : typeof set.status === 'number' ? set.status : 200;
        countRequest(request, route || UNMATCHED_ROUTE, status);
      })
      .use(docsRoutes(VERSION, () => self as AnyElysia))
      .use(liveRoutes(readingsFeed, alerts, streamLimits))
      .use(readingsRoutes(service, (rows) => metrics.exported.inc(rows)))
      .use(
        ingestRoutes(
          ingest,
          (accepted, refused) => {
            metrics.ingested.inc({ outcome: 'accepted' }, accepted);
            metrics.ingested.inc({ outcome: 'refused' }, refused);
          },
          (request) => grants.get(request),
          config.maxBodyBytes,
        ),
      )
      .use(
        lineProtocolRoutes({
          ingest,
          deviceTag: config.lineProtocolDeviceTag ?? 'device',
          grantOf: (request) => grants.get(request),
          onIngested: (accepted, refused) => {
            metrics.ingested.inc({ outcome: 'accepted' }, accepted);
            metrics.ingested.inc({ outcome: 'refused' }, refused);
          },
          maxBodyBytes: config.maxBodyBytes,
        }),
      )
      .use(importRoutes(imports))
      .use(alertRoutes(store, alerting))
      .use(ruleRoutes(alerting))
      .use(silenceRoutes(alerting))
      .use(deviceRoutes(store, alerting))
      .use(statsRoutes(store, rules))
      .use(
        systemRoutes({
          store,
          metrics,
          pipeline,
          version: VERSION,
          mayReadAll,
          retention,
          compression,
          problems: () => [
            ...(imports?.worker?.problems() ?? []),
            ...(damage.met > 0 ? [`database: ${damage.last} (met ${damage.met} times since the API started)`] : []),
          ],
          storageIdentity,
        }),
      );
  self = app;
  return app;
}

export type App = ReturnType<typeof createApp>;
