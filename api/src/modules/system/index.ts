import { Elysia } from 'elysia';
import type { ReadingsStore } from '../../storage/port.ts';
import type { StorageIdentityWatch } from './storage-identity.ts';
import type { CompressionStatus } from './reading-compression.ts';
import type { RetentionStatus } from './reading-retention.ts';
import type { ApiMetrics } from '../../metrics.ts';
import { type PipelineHealth, type PipelineOptions, pipelineHealth, pipelineMetrics } from './pipeline.ts';
import { errorResponses, jsonResponse, textResponse } from '../docs/responses.ts';

/** /health's answer; without the read token (when READ_TOKEN is set) only status and reasons. */
const HEALTH_SCHEMA = {
  type: 'object',
  required: ['status', 'reasons'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'down'] },
    reasons: { type: 'array', items: { type: 'string' } },
    checks: { type: 'object', description: 'api, database and redis, each with its status' },
    groups: { type: 'array', items: { type: 'object' }, description: 'Consumer groups: lag, pending, oldest waiting' },
    partitionTotals: {
      type: 'array',
      items: { type: 'object' },
      description: 'With STREAM_PARTITIONS: each group of the readings and alerts streams added up over the partitions',
    },
    deadLetters: { type: 'array', items: { type: 'object' } },
    workers: { type: 'array', items: { type: 'object' }, description: 'Every worker: alive, or silent since when' },
  },
};

const startedAt = Date.now();

/** The pipeline's view, or why it could not be had (a Redis error mid-way is a reason, not a 500). */
async function safePipelineHealth(options: PipelineOptions): Promise<PipelineHealth> {
  try {
    return await pipelineHealth(options);
  } catch (error) {
    const message = (error as Error).message;
    return {
      redis: { status: 'down', error: message },
      groups: [],
      deadLetters: [],
      workers: [],
      reasons: [`Redis: ${message}`],
      heartbeats: [],
    };
  }
}

/**
 * /health: api, database and — when the API has a Redis — Redis, every group's lag and pending
 * entries, dead-letter depths and every worker's heartbeat, summed up as ok (200), degraded (200,
 * with reasons) or down (503: no database or no Redis). /metrics: the API's own metrics plus the
 * pipeline's, gathered from the same place.
 */
export interface SystemRoutesOptions {
  store: ReadingsStore;
  metrics: ApiMetrics;
  pipeline?: PipelineOptions;
  version: string;
  /** Whether a request may see the details (hosts, pids, groups): READ_TOKEN unset, or presented. */
  mayReadAll: (request: Request) => boolean;
  /** Raw-reading retention, when this API runs it. */
  retention?: () => RetentionStatus;
  /** Compression of cold readings, when this API runs it. */
  compression?: () => CompressionStatus;
  /** What this API's own parts (the import worker) report as wrong, each a reason that makes /health degraded. */
  problems?: () => string[];
  /** A database found replaced at start (storage-identity.ts): named by /health until acknowledged. */
  storageIdentity?: StorageIdentityWatch;
}

export function systemRoutes({
  store,
  metrics,
  pipeline,
  version,
  mayReadAll,
  retention,
  compression,
  problems = () => [],
  storageIdentity,
}: SystemRoutesOptions) {
  return new Elysia({ name: 'system', detail: { tags: ['system'] } })
    .get(
      '/health',
      async ({ set, request }) => {
        const database = { backend: store.backend, ...(await store.check()) };
        const view = pipeline ? await safePipelineHealth(pipeline) : undefined;
        const down = database.status === 'down' || view?.redis.status === 'down';
        const reasons = [
          ...(database.status === 'down' ? [`database: ${database.error}`] : []),
          ...(view?.reasons ?? []),
          ...problems(),
          ...(storageIdentity?.problems() ?? []),
        ];
        const status = down ? 'down' : reasons.length > 0 ? 'degraded' : 'ok';
        set.status = down ? 503 : 200;
        // Without the read token (when one is set), only what a load balancer or a person needs.
        if (!mayReadAll(request)) return { status, reasons };
        // How far back the raw readings go, and what retention and compression did last.
        const oldest = database.status === 'ok' ? await store.oldestReadingTs().catch(() => null) : null;
        const history = {
          oldestReading: oldest === null ? null : new Date(oldest).toISOString(),
          retention: retention?.() ?? null,
          compression: compression?.() ?? null,
        };
        return {
          status,
          reasons,
          checks: {
            api: { status: 'ok', version, uptimeSeconds: Math.round((Date.now() - startedAt) / 1_000) },
            database: { ...database, ...history },
            redis: view?.redis ?? { status: 'not configured' },
          },
          groups: view?.groups ?? [],
          ...(view?.partitionTotals ? { partitionTotals: view.partitionTotals } : {}),
          deadLetters: view?.deadLetters ?? [],
          workers: view?.workers ?? [],
        };
      },
      {
        detail: {
          summary:
            'ok (200), degraded (200, with reasons) or down (503); every check with the read token (when READ_TOKEN is set)',
          responses: {
            200: jsonResponse('ok or degraded', HEALTH_SCHEMA),
            503: jsonResponse('down: storage or Redis unusable', HEALTH_SCHEMA),
          },
        },
      },
    )
    .post(
      '/health/storage/acknowledge',
      async ({ set }) => {
        const acknowledged = (await storageIdentity?.acknowledge()) ?? false;
        set.status = 200;
        return { acknowledged };
      },
      {
        detail: {
          summary:
            'Acknowledge that the database was found replaced or lost at start (after restoring it or rebuilding from the stream): /health stops naming it',
          responses: {
            200: jsonResponse('Whether there was something to acknowledge', {
              type: 'object',
              properties: { acknowledged: { type: 'boolean' } },
            }),
            ...errorResponses(401, 503),
          },
        },
      },
    )
    .get(
      '/metrics',
      async () => {
        let text = await metrics.registry.metrics();
        if (pipeline) text += pipelineMetrics(await safePipelineHealth(pipeline), pipeline.epoch?.losses);
        return new Response(text, { headers: { 'content-type': metrics.registry.contentType } });
      },
      {
        detail: {
          summary: 'Prometheus metrics: the API and, through Redis, the whole pipeline',
          responses: {
            200: textResponse('Prometheus text exposition format 0.0.4', 'text/plain'),
            ...errorResponses(401),
          },
        },
      },
    );
}
