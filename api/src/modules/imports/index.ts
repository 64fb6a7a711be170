import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ALERT_MODES, type AlertMode, newEventId } from 'core';
import { Elysia, t } from 'elysia';
import { ApiError } from '../../errors.ts';
import { queryParams } from '../../query-params.ts';
import { redisAnswers503 } from '../../redis-unavailable.ts';
import { boundedChunks } from '../../json-body.ts';
import { errorResponses, jsonResponse } from '../docs/responses.ts';
import { ACTIVE_STATES, type ImportJobs, importView } from './jobs.ts';
import { UPLOAD_SUFFIX, checkFreeSpace, writeUpload } from './upload-file.ts';
import type { ImportWorker } from './worker.ts';

export interface ImportsOptions {
  jobs: ImportJobs;
  worker?: ImportWorker;
  /** Where uploads are kept until imported. */
  dir: string;
  maxBytes: number;
  /** Jobs queued or running on this instance at most; past it 429. */
  maxJobs: number;
  owner: string;
}

const JOB_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'cancelling', 'done', 'failed', 'cancelled'] },
    bytes: { type: 'integer' },
    bytesRead: { type: 'integer' },
    rowsRead: { type: 'integer' },
    published: { type: 'integer' },
    badRows: { type: 'integer' },
    badSamples: {
      type: 'array',
      items: { type: 'object', properties: { line: { type: 'integer' }, reason: { type: 'string' } } },
    },
    ratePerSecond: { type: 'integer' },
    etaSeconds: { type: ['integer', 'null'] },
    queuedMs: { type: 'integer' },
    processingMs: { type: 'integer' },
  },
};

/**
 * Bulk imports as jobs: POST /imports streams the body (CSV or NDJSON, gzip or not, any size up
 * to IMPORT_MAX_BYTES) to a file as it arrives and answers 202 with the job; the worker imports
 * it through the stream; GET shows progress; DELETE cancels.
 */
const unavailable = redisAnswers503('imports_unavailable', 'import jobs');

/** The job store with Redis being away as a 503 to retry (job state lives there), not an internal error. */
function answering503(jobs: ImportJobs): ImportJobs {
  const guarded =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      unavailable.call(() => call(...args));
  return {
    ...jobs,
    get: guarded(jobs.get),
    create: guarded(jobs.create),
    update: guarded(jobs.update),
    list: guarded(jobs.list),
    active: guarded(jobs.active),
  };
}

/**
 * `?alerts=`: what alerting does with the import's readings — `notify` (sent however old),
 * `record` (in the alert history, not sent), `skip` (not evaluated); by their age when not given.
 * @throws ApiError 422 naming the parameter.
 */
function alertModeOf(raw: string | undefined): AlertMode | undefined {
  if (raw === undefined) return undefined;
  const mode = ALERT_MODES.find((known) => known === raw);
  if (!mode)
    throw new ApiError(
      422,
      'validation',
      `alerts must be one of ${ALERT_MODES.join(', ')} (or left out: by the readings' age), got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  return mode;
}

export function importRoutes(options: ImportsOptions | undefined) {
  const served = options && { ...options, jobs: answering503(options.jobs) };
  const available = (): ImportsOptions => {
    if (!served) throw unavailable.none();
    return served;
  };
  const found = async (id: string) => {
    const job = await available().jobs.get(id);
    if (!job) throw new ApiError(404, 'not_found', `no import with id ${JSON.stringify(id.slice(0, 64))}`);
    return job;
  };

  return new Elysia({ name: 'imports', detail: { tags: ['imports'] } })
    .post(
      '/imports',
      async ({ request, set }) => {
        const { jobs, worker, dir, maxBytes, maxJobs, owner } = available();
        const alerts = alertModeOf(queryParams(request.url).alerts);
        const active = await jobs.active(owner);
        if (active.length >= maxJobs)
          throw new ApiError(
            429,
            'too_many_imports',
            `${active.length} imports are queued or running here (IMPORT_MAX_JOBS ${maxJobs}); retry later`,
            undefined,
            { 'retry-after': '10' },
          );
        const declared = Number(request.headers.get('content-length') ?? Number.NaN);
        if (declared > maxBytes)
          throw new ApiError(413, 'body_too_large', `upload is over ${maxBytes} bytes (IMPORT_MAX_BYTES)`);
        const id = newEventId();
        await mkdir(dir, { recursive: true });
        await checkFreeSpace(dir, declared);
        const file = join(dir, `${id}${UPLOAD_SUFFIX}`);
        const bytes = await writeUpload(
          file,
          boundedChunks(
            request.body,
            maxBytes,
            () =>
              new ApiError(
                413,
                'body_too_large',
                `upload is over ${maxBytes} bytes (IMPORT_MAX_BYTES); nothing was kept`,
              ),
          ),
        );
        if (bytes === 0) {
          await rm(file, { force: true });
          throw new ApiError(
            422,
            'validation',
            'the upload is empty: send a CSV (with a header row) or NDJSON body, gzip accepted',
          );
        }
        const job = {
          id,
          state: 'queued' as const,
          owner,
          file,
          bytes,
          createdAt: Date.now(),
          bytesRead: 0,
          rowsRead: 0,
          published: 0,
          badRows: 0,
          badSamples: [],
          committedLine: 0,
          cancelRequested: false,
          ...(alerts ? { alerts } : {}),
        };
        // Redis lost between the admission check and here: no job, so no upload kept either.
        await jobs.create(job).catch(async (error) => {
          await rm(file, { force: true });
          throw error;
        });
        worker?.notify();
        set.status = 202;
        set.headers.location = `/imports/${id}`;
        return importView(job);
      },
      {
        parse: 'none',
        detail: {
          summary:
            'Upload a CSV or NDJSON file (gzip accepted, up to IMPORT_MAX_BYTES) as an import job: 202 with the job, imported through the stream',
          parameters: [
            {
              name: 'alerts',
              in: 'query',
              required: false,
              schema: { type: 'string', enum: [...ALERT_MODES] },
              description:
                'What alerting does with the readings: notify (sent however old), record (in the alert history, not sent), skip (not evaluated); left out, readings taken longer than ALERT_NOTIFY_MAX_AGE_MS before they arrive are recorded, not sent',
            },
          ],
          requestBody: {
            required: true,
            content: {
              'text/csv': {
                schema: {
                  type: 'string',
                  description:
                    'A header row naming deviceId, metric, value, unit, ts (and optionally id), then one reading a line',
                },
              },
              'application/x-ndjson': { schema: { type: 'string', description: 'One reading (JSON) a line' } },
              'application/gzip': {
                schema: { type: 'string', format: 'binary', description: 'Either of the above, gzip-compressed' },
              },
            },
          },
          responses: {
            202: jsonResponse('Queued: follow it at the Location', JOB_VIEW),
            ...errorResponses(401, 413, 422, 429, 503, 507),
          },
        },
      },
    )
    .get('/imports', async () => ({ imports: (await available().jobs.list(100)).map((job) => importView(job)) }), {
      detail: {
        summary: 'The latest 100 imports, newest first',
        responses: {
          200: jsonResponse('Imports', { type: 'object', properties: { imports: { type: 'array', items: JOB_VIEW } } }),
          ...errorResponses(401, 503),
        },
      },
    })
    .get('/imports/:id', async ({ params }) => importView(await found(params.id)), {
      params: t.Object({ id: t.String({ maxLength: 64 }) }),
      detail: {
        summary:
          'One import: state, bytes and rows read, readings published, bad rows with lines, rate, ETA, time queued and spent',
        responses: { 200: jsonResponse('The import', JOB_VIEW), ...errorResponses(401, 404, 422, 503) },
      },
    })
    .delete(
      '/imports/:id',
      async ({ params, set }) => {
        const { jobs, worker } = available();
        const job = await found(params.id);
        if (ACTIVE_STATES.has(job.state)) {
          await jobs.update(job.id, { cancelRequested: true });
          worker?.notify();
          job.cancelRequested = true;
        }
        set.status = 202;
        return importView(job);
      },
      {
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        detail: {
          summary: 'Cancel an import (what is already in the stream stays)',
          responses: {
            202: jsonResponse('Cancelling, or already finished', JOB_VIEW),
            ...errorResponses(401, 404, 422, 503),
          },
        },
      },
    );
}
