import {
  ConnectionRenewedError,
  type DeviceGrant,
  deviceMatches,
  firstReceipt,
  publishReadings,
  type Reading,
  type ReadingStreams,
  ReplicasBehindError,
} from 'core';
import { Elysia } from 'elysia';
import type Redis from 'ioredis';
import { ApiError } from '../../errors.ts';
import { type DocumentedBody, errorResponses, jsonResponse } from '../docs/responses.ts';
import { UnparsedLine, parseNdjson } from './body.ts';
import { MAX_INGEST_ITEMS, type Refused, toStreamReading } from './readings.ts';
import { DEFAULT_MAX_BODY_BYTES } from '../../config.ts';
import { readBodyBounded } from '../../json-body.ts';

export interface IngestOptions {
  redis: Redis;
  /** The readings stream (READINGS_STREAM): receipts and refusals are kept beside it. */
  stream: string;
  /** Its partitions (STREAM_PARTITIONS), the readings' destinations: default the stream alone. */
  streams?: ReadingStreams;
  /** Readings per stream entry (FRAME_READINGS). */
  frameReadings?: number;
}

/**
 * Publishes a door's readings: resolves once Redis (and the replicas REDIS_MIN_REPLICAS asks for)
 * has every one; else a 503 saying which, nothing or all added (one atomic script).
 */
export async function publishOr503(ingest: IngestOptions, readings: readonly Reading[]): Promise<void> {
  try {
    await publishReadings(ingest.redis, ingest.streams ?? ingest.stream, readings, ingest.frameReadings);
  } catch (error) {
    if (error instanceof ReplicasBehindError || error instanceof ConnectionRenewedError) {
      throw new ApiError(
        503,
        'replicas_behind',
        `the readings reached the Redis primary but not its replicas: ${(error as Error).message} (the same request again is stored once)`,
        undefined,
        { 'retry-after': '1' },
      );
    }
    throw new ApiError(
      503,
      'stream_unavailable',
      `Redis did not take the readings (none were added): ${(error as Error).message}`,
      undefined,
      { 'retry-after': '1' },
    );
  }
}

/**
 * A device token publishes its own device(s) only: a request with one reading of another device
 * is refused whole (403), nothing added.
 */
export function requireGranted(grant: DeviceGrant | undefined, readings: readonly Reading[]): void {
  const foreign = grant ? readings.find((reading) => !deviceMatches(grant.device, reading.deviceId)) : undefined;
  if (grant && foreign)
    throw new ApiError(
      403,
      'forbidden',
      `this token publishes for ${grant.device} only, not ${foreign.deviceId}; nothing was added`,
    );
}

/** How many readings of a request went into the stream, for /metrics. */
type OnIngested = (accepted: number, refused: number) => void;

/**
 * `POST /ingest`: devices in over HTTP, through the stream like any producer — consumer-store
 * stores them and consumer-alert evaluates them. One reading, an array (JSON) or one per line
 * (NDJSON); answered 202 only once Redis has acknowledged every accepted reading (one atomic
 * script: all of them or, on failure, none).
 */
/** A reading as a device sends it: `ts` ISO 8601 or epoch milliseconds, `id` minted when absent. */
const INGEST_READING = {
  type: 'object',
  required: ['deviceId', 'metric', 'value', 'unit'],
  properties: {
    id: { type: 'string', description: 'Idempotency key (UUIDv7); minted when absent' },
    deviceId: { type: 'string' },
    metric: { type: 'string' },
    value: { type: 'number' },
    unit: { type: 'string' },
    ts: {
      description: 'Left out (a device without a clock): when the API first received the request',
      oneOf: [
        { type: 'string', format: 'date-time' },
        { type: 'integer', description: 'Epoch milliseconds' },
      ],
    },
  },
};
const INGEST_ACCEPTED = {
  type: 'object',
  required: ['accepted', 'ids'],
  properties: {
    accepted: { type: 'integer' },
    ids: { type: 'array', items: { type: 'string' } },
    refused: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: { type: 'integer' }, path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

export function ingestRoutes(
  ingest: IngestOptions | undefined,
  onIngested: OnIngested = () => {},
  grantOf: (request: Request) => DeviceGrant | undefined = () => undefined,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
) {
  return new Elysia({ name: 'ingest', detail: { tags: ['ingest'] } }).post(
    '/ingest',
    async ({ body, set, request }) => {
      if (!ingest)
        throw new ApiError(503, 'ingest_unavailable', 'this API has no Redis to ingest into (REDIS_URL)', undefined, {
          'retry-after': '1',
        });
      if (typeof body !== 'object' || body === null) {
        throw new ApiError(
          415,
          'unsupported_media_type',
          'send readings as application/json (one or an array) or application/x-ndjson (one per line)',
        );
      }
      const items = Array.isArray(body) ? body : [body];
      if (items.length === 0) throw new ApiError(422, 'validation', 'no readings in the request');
      if (items.length > MAX_INGEST_ITEMS)
        throw new ApiError(422, 'validation', `at most ${MAX_INGEST_ITEMS} readings per request, got ${items.length}`);
      const nowMs = Date.now();
      // Readings without a time (a device without a clock) take the request's first receipt.
      const undated = items.some(
        (item) => typeof item === 'object' && item !== null && (item as { ts?: unknown }).ts === undefined,
      );
      const receivedAtMs = undated
        ? await firstReceipt(ingest.redis, { stream: ingest.stream, door: 'ingest' }, JSON.stringify(items), nowMs)
        : undefined;
      const readings: Reading[] = [];
      const refused: Refused[] = [];
      items.forEach((item, index) => {
        const outcome =
          item instanceof UnparsedLine
            ? { index, path: `${index}`, message: `line ${index + 1} ${item.message}` }
            : toStreamReading(item, index, nowMs, receivedAtMs);
        if ('path' in outcome) refused.push(outcome);
        else readings.push(outcome);
      });
      requireGranted(grantOf(request), readings);
      if (readings.length === 0) {
        const first = refused[0] as Refused;
        throw new ApiError(
          422,
          'validation',
          `${first.path}: ${first.message}`,
          refused.slice(0, 20).map(({ path, message }) => ({ path, message })),
        );
      }
      await publishOr503(ingest, readings);
      onIngested(readings.length, refused.length);
      set.status = 202;
      return {
        accepted: readings.length,
        ids: readings.map((reading) => reading.id),
        ...(refused.length > 0 ? { refused } : {}),
      };
    },
    {
      // NDJSON here; JSON is parsed (and checked) by the API's body parser.
      parse: async ({ request, contentType }) => {
        if (contentType.startsWith('application/x-ndjson'))
          return parseNdjson(await readBodyBounded(request, maxBodyBytes));
      },
      detail: {
        summary:
          'Ingest readings into the stream (one, an array, or NDJSON): 202 once Redis has them; stored and evaluated downstream',
        requestBody: <DocumentedBody>{
          required: true,
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  INGEST_READING,
                  { type: 'array', items: INGEST_READING, minItems: 1, maxItems: MAX_INGEST_ITEMS },
                ],
              },
            },
            'application/x-ndjson': {
              schema: { type: 'string', description: 'One reading (as in application/json) per line' },
            },
          },
        },
        responses: {
          202: jsonResponse(
            'Accepted: in the stream, to be stored and evaluated; invalid items refused one by one',
            INGEST_ACCEPTED,
          ),
          ...errorResponses(400, 401, 403, 413, 415, 422, 503),
        },
      },
    },
  );
}
