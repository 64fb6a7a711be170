import { gunzipSync } from 'node:zlib';
import { type DeviceGrant, firstReceipt, precisionOf } from 'core';
import { Elysia } from 'elysia';
import { DEFAULT_MAX_BODY_BYTES } from '../../config.ts';
import { ApiError } from '../../errors.ts';
import { queryParams } from '../../query-params.ts';
import { errorResponses } from '../docs/responses.ts';
import { type IngestOptions, publishOr503, requireGranted } from '../ingest/index.ts';
import { readingsOfBody } from './points.ts';

/** Readings one body may carry (a point per number or boolean field): Telegraf sends 1,000 lines a batch. */
export const MAX_LINE_PROTOCOL_READINGS = 50_000;
/** A gzip body may inflate to this many times MAX_BODY_BYTES at most: line protocol compresses 10–20×. */
const MAX_INFLATION = 32;

/** InfluxDB's answer to a write it refused some lines of (v1 clients read `error`, v2 `message`). */
function partialWrite(bad: ReadonlyArray<{ line: number; message: string }>, written: number) {
  const first = bad[0] as { line: number; message: string };
  const message = `partial write: ${bad.length} line(s) refused, ${written} reading(s) written; line ${first.line}: ${first.message}`;
  return new Response(JSON.stringify({ code: 'invalid', message, error: message, line: first.line }), {
    status: 400,
    headers: { 'content-type': 'application/json' },
  });
}

/** UTF-8 as the other doors take it: bytes that are not are refused, not replaced. */
function utf8(bytes: ArrayBuffer | Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, 'invalid_utf8', 'the body is not UTF-8 text');
  }
}

/** The body as text: gunzipped when it says so, bounded either way. */
function bodyText(raw: ArrayBuffer, encoding: string | null, maxBodyBytes: number): string {
  if (encoding === null || encoding === 'identity') return utf8(raw);
  if (encoding !== 'gzip')
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Content-Encoding ${JSON.stringify(encoding)}: send gzip or none`,
    );
  const most = maxBodyBytes * MAX_INFLATION;
  let inflated: Uint8Array;
  try {
    inflated = gunzipSync(new Uint8Array(raw), { maxOutputLength: most });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new ApiError(413, 'body_too_large', `the gzip body inflates past ${most} bytes: split the batch`);
    throw new ApiError(400, 'invalid_gzip', `the body is not valid gzip: ${(error as Error).message}`);
  }
  return utf8(inflated);
}

/**
 * InfluxDB's write APIs, so Telegraf and InfluxDB's clients are a door of this pipeline:
 * `POST /api/v2/write?org&bucket&precision=ns|us|ms|s` and v1's `POST /write?db&precision=n|u|ms|s`,
 * line protocol in (gzip accepted), each point's number and boolean fields as readings into the
 * stream like every other door. 204 when every line was taken; 400 naming the first bad line (and
 * how many) while the good ones are written, as InfluxDB 2 answers a partial write.
 */
export function lineProtocolRoutes(options: {
  ingest: IngestOptions | undefined;
  deviceTag: string;
  grantOf: (request: Request) => DeviceGrant | undefined;
  onIngested: (accepted: number, refused: number) => void;
  maxBodyBytes?: number;
}) {
  const { ingest, deviceTag, grantOf, onIngested } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  /** The body as the API's parser hands it to these paths: its bytes (LINE_PROTOCOL_PATHS in app.ts). */
  const write = async (request: Request, raw: ArrayBuffer, precisionParam: string | undefined) => {
    if (!ingest)
      throw new ApiError(503, 'ingest_unavailable', 'this API has no Redis to ingest into (REDIS_URL)', undefined, {
        'retry-after': '1',
      });
    const precision = precisionOf(precisionParam);
    if (precision === undefined)
      throw new ApiError(
        400,
        'invalid',
        `precision ${JSON.stringify(precisionParam)}: ns, us, ms or s (v1: n, u, ms, s)`,
      );
    const text = bodyText(raw, request.headers.get('content-encoding'), maxBodyBytes);
    const nowMs = Date.now();
    const receiptMs = await firstReceipt(
      ingest.redis,
      { stream: ingest.stream, door: 'line-protocol' },
      new Uint8Array(raw),
      nowMs,
    );
    const { readings, bad, lines } = readingsOfBody(text, { precision, deviceTag, nowMs, receiptMs });
    if (readings.length > MAX_LINE_PROTOCOL_READINGS)
      throw new ApiError(
        413,
        'too_many_points',
        `${readings.length} readings in one body; at most ${MAX_LINE_PROTOCOL_READINGS}: split the batch`,
      );
    requireGranted(grantOf(request), readings);
    if (lines === 0) throw new ApiError(400, 'invalid', 'the body holds no line protocol');
    if (readings.length > 0) await publishOr503(ingest, readings);
    onIngested(readings.length, bad.length);
    return bad.length > 0 ? partialWrite(bad, readings.length) : new Response(null, { status: 204 });
  };

  const detail = (summary: string) => ({
    summary,
    responses: { 204: { description: 'Every line written' }, ...errorResponses(400, 401, 403, 413, 415, 503) },
  });

  return new Elysia({ name: 'line-protocol', detail: { tags: ['ingest'] } })
    .post(
      '/api/v2/write',
      ({ request, body }) => write(request, body as ArrayBuffer, queryParams(request.url).precision),
      {
        detail: detail('InfluxDB 2 write API: line protocol in, readings into the stream (Telegraf, InfluxDB clients)'),
      },
    )
    .post('/write', ({ request, body }) => write(request, body as ArrayBuffer, queryParams(request.url).precision), {
      detail: detail('InfluxDB 1 write API: line protocol in, readings into the stream'),
    })
    .get('/ping', () => new Response(null, { status: 204, headers: { 'x-influxdb-version': 'telemetry-pipeline' } }), {
      detail: {
        summary: 'Answers 204, as InfluxDB does, for clients that probe before writing',
        responses: { 204: { description: 'Up' } },
      },
    });
}
