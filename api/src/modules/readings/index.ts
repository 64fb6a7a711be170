import { Elysia, t } from 'elysia';
import { ApiError } from '../../errors.ts';
import { errorResponses, jsonResponse, textResponse } from '../docs/responses.ts';
import { decodeCursor } from './cursor.ts';
import { exportResponse } from './export.ts';
import { parseFilter, parseLimit } from './filters.ts';
import {
  BatchResult,
  ExportQuery,
  IdParams,
  LatestQuery,
  ListQuery,
  NewReading,
  NewReadingBatch,
  ReadingPage,
  ReadingPatch,
  ReadingRows,
  StoredReading,
} from './model.ts';
import type { ReadingsService } from './service.ts';

const notFound = (id: string) =>
  new ApiError(404, 'not_found', `no reading with id ${JSON.stringify(id.slice(0, 64))}`);

/** CRUD, listing and export of readings. Tokens are checked before routing (see app.ts). */
export function readingsRoutes(service: ReadingsService, onExported: (rows: number) => void = () => {}) {
  return new Elysia({ name: 'readings', prefix: '/readings', detail: { tags: ['readings'] } })
    .post(
      '/',
      async ({ body, set }) => {
        const { created, reading } = await service.create(body);
        set.status = created ? 201 : 200;
        return reading;
      },
      {
        body: NewReading,
        response: { 200: StoredReading, 201: StoredReading },
        detail: {
          summary: 'Store one reading',
          description:
            "201 when stored; 200 with the stored row when its id was already stored with the same content; 409 `conflict` when it is stored with other content (the stored version stays; `details` names each field that differs, with both values). An operator's direct correction: devices use POST /ingest.",
          responses: errorResponses(400, 401, 409, 413, 422, 503),
        },
      },
    )
    .post('/batch', ({ body }) => service.createBatch(body.readings), {
      body: NewReadingBatch,
      response: BatchResult,
      detail: {
        summary: 'Store up to 5,000 readings in one transaction, idempotent by id',
        responses: errorResponses(400, 401, 413, 422, 503),
      },
    })
    .post('/rows', ({ body }) => service.createRows(body.rows), {
      body: ReadingRows,
      response: BatchResult,
      detail: {
        summary:
          'Store up to 5,000 readings given as the contract’s arrays (the compact form consumer-store sends), idempotent by id',
        description:
          'Each row is `[id, deviceId, metric, value, unit, ts]`, ts in epoch ms: a frame element. The answer is POST /readings/batch’s; refused rows are named `rows.<index>.<field>`.',
        responses: errorResponses(400, 401, 413, 422, 503),
      },
    })
    .get(
      '/',
      ({ query }) =>
        service.list(
          parseFilter(query),
          parseLimit(query.limit),
          query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        ),
      {
        query: ListQuery,
        response: ReadingPage,
        detail: {
          summary: 'List readings, newest first, with cursor pagination',
          responses: errorResponses(401, 422, 429, 503),
        },
      },
    )
    .get(
      '/latest',
      async ({ query }) =>
        new Response(await service.latestJson(parseLimit(query.limit)), {
          headers: { 'content-type': 'application/json' },
        }),
      {
        query: LatestQuery,
        detail: {
          summary: 'The newest readings (limit ≤ 1,000, default 100)',
          responses: { 200: jsonResponse('Newest first', t.Array(StoredReading)), ...errorResponses(401, 422, 503) },
        },
      },
    )
    .get('/export', ({ query }) => exportResponse(service, parseFilter(query), query.format ?? 'csv', onExported), {
      query: ExportQuery,
      detail: {
        summary: 'Stream every matching reading as CSV or NDJSON, oldest first, in constant memory',
        responses: {
          200: textResponse(
            'Every matching reading, oldest first (format=csv or ndjson)',
            'text/csv',
            'application/x-ndjson',
          ),
          ...errorResponses(401, 422, 429, 503),
        },
      },
    })
    .get(
      '/:id',
      async ({ params }) => {
        const reading = await service.get(params.id);
        if (!reading) throw notFound(params.id);
        return reading;
      },
      {
        params: IdParams,
        response: StoredReading,
        detail: { summary: 'One reading', responses: errorResponses(401, 404, 422, 503) },
      },
    )
    .patch(
      '/:id',
      async ({ params, body }) => {
        const reading = await service.update(params.id, body);
        if (!reading) throw notFound(params.id);
        return reading;
      },
      {
        params: IdParams,
        body: ReadingPatch,
        response: StoredReading,
        detail: {
          summary: 'Correct value, unit or metric (not id)',
          responses: errorResponses(400, 401, 404, 413, 422, 503),
        },
      },
    )
    .delete(
      '/:id',
      async ({ params }) => {
        if (!(await service.remove(params.id))) throw notFound(params.id);
        return new Response(null, { status: 204 });
      },
      {
        params: IdParams,
        detail: {
          summary: 'Delete one reading',
          responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 404, 422, 503) },
        },
      },
    );
}
