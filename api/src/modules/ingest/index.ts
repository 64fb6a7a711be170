import { type Reading, publishReadings } from 'core';
import { Elysia } from 'elysia';
import type Redis from 'ioredis';
import { ApiError } from '../../errors.ts';
import { WRITE_SECURITY } from '../docs/index.ts';
import { UnparsedLine, parseNdjson } from './body.ts';
import { MAX_INGEST_ITEMS, type Refused, toStreamReading } from './readings.ts';

export interface IngestOptions {
  redis: Redis;
  /** The readings stream (READINGS_STREAM). */
  stream: string;
}

/** How many readings of a request went into the stream, for /metrics. */
type OnIngested = (accepted: number, refused: number) => void;

/**
 * `POST /ingest`: devices in over HTTP, through the stream like any producer — consumer-store
 * stores them and consumer-alert evaluates them. One reading, an array (JSON) or one per line
 * (NDJSON); answered 202 only once Redis has acknowledged every accepted reading (one atomic
 * script: all of them or, on failure, none).
 */
export function ingestRoutes(ingest: IngestOptions | undefined, onIngested: OnIngested = () => {}) {
  return new Elysia({ name: 'ingest', detail: { tags: ['ingest'] } }).post(
    '/ingest',
    async ({ body, set }) => {
      if (!ingest) throw new ApiError(503, 'ingest_unavailable', 'this API has no Redis to ingest into (REDIS_URL)', undefined, { 'retry-after': '1' });
      if (typeof body !== 'object' || body === null) {
        throw new ApiError(415, 'unsupported_media_type', 'send readings as application/json (one or an array) or application/x-ndjson (one per line)');
      }
      const items = Array.isArray(body) ? body : [body];
      if (items.length === 0) throw new ApiError(422, 'validation', 'no readings in the request');
      if (items.length > MAX_INGEST_ITEMS) throw new ApiError(422, 'validation', `at most ${MAX_INGEST_ITEMS} readings per request, got ${items.length}`);
      const nowMs = Date.now();
      const readings: Reading[] = [];
      const refused: Refused[] = [];
      items.forEach((item, index) => {
        const outcome = item instanceof UnparsedLine ? { index, path: `${index}`, message: `line ${index + 1} ${item.message}` } : toStreamReading(item, index, nowMs);
        if ('path' in outcome) refused.push(outcome);
        else readings.push(outcome);
      });
      if (readings.length === 0) {
        const first = refused[0] as Refused;
        throw new ApiError(422, 'validation', `${first.path}: ${first.message}`, refused.slice(0, 20).map(({ path, message }) => ({ path, message })));
      }
      try {
        await publishReadings(ingest.redis, ingest.stream, readings);
      } catch (error) {
        throw new ApiError(503, 'stream_unavailable', `Redis did not take the readings (none were added): ${(error as Error).message}`, undefined, { 'retry-after': '1' });
      }
      onIngested(readings.length, refused.length);
      set.status = 202;
      return { accepted: readings.length, ids: readings.map((reading) => reading.id), ...(refused.length > 0 ? { refused } : {}) };
    },
    {
      // NDJSON here; JSON is parsed (and checked) by the API's body parser.
      parse: async ({ request, contentType }) => {
        if (contentType.startsWith('application/x-ndjson')) return parseNdjson(await request.arrayBuffer());
      },
      detail: {
        summary: 'Ingest readings into the stream (one, an array, or NDJSON): 202 once Redis has them; stored and evaluated downstream',
        security: WRITE_SECURITY,
      },
    },
  );
}
