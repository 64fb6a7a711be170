import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createRedis } from 'core';
import {
  type RedisServer,
  freePort,
  startRedisServer,
  startService,
  uniqueName,
  waitFor,
  streamReadings,
} from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, testStore } from '../../test-helpers.ts';
import { importJobs } from './jobs.ts';
import { startImportWorker } from './worker.ts';

let server: RedisServer;
let redis: Redis;
let dir: string;
const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'imports-test' });
  dir = await mkdtemp(join(tmpdir(), 'imports-test-'));
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

/** An API with imports and its worker, on a stream of its own. */
function importsApi(limits: { maxBytes?: number; maxJobs?: number } = {}) {
  const stream = uniqueName('readings');
  const prefix = uniqueName('imports');
  const jobs = importJobs(redis, prefix);
  const owner = uniqueName('owner');
  const worker = startImportWorker({ redis, jobs, stream, owner, maxBacklog: 1_000_000, logger: quiet });
  const uploads = join(dir, prefix.replaceAll(':', '-'));
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: quiet,
    imports: {
      jobs,
      worker,
      dir: uploads,
      maxBytes: limits.maxBytes ?? 100_000_000,
      maxJobs: limits.maxJobs ?? 20,
      owner,
    },
  });
  const call = async (method: string, path: string, body?: BodyInit, headers: Record<string, string> = {}) => {
    const response = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_TOKEN}`, ...headers },
        ...(body ? { body } : {}),
      }),
    );
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  };
  const upload = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'text/csv' }) =>
    call('POST', '/imports', body, headers);
  const until = (id: string, state: string) =>
    waitFor(
      async () => {
        const job = (await call('GET', `/imports/${id}`)).body;
        return job.state === state && job;
      },
      { what: `import ${state}`, timeoutMs: 60_000 },
    );
  const inStream = () => streamReadings(redis, stream);
  return { call, upload, until, inStream, worker, uploads, stream };
}

const csv = (rows: number, from = 0) =>
  `deviceId,metric,value,unit,ts\n${Array.from({ length: rows }, (_, i) => `dev-${(from + i) % 50},kwh,${(from + i) % 100},kWh,${1_764_000_000_000 + from + i}`).join('\n')}\n`;

describe('POST /imports: files as jobs', () => {
  it('imports a CSV through the stream, reporting rows, readings published and each bad row with its line', async () => {
    const { upload, until, inStream, worker } = importsApi();
    try {
      const body = `${csv(1_000)}dev-x,kwh,not-a-number,kWh,1764000000000\n`;
      const queued = await upload(body);
      expect(queued.status).toBe(202);
      expect(queued.headers.get('location')).toBe(`/imports/${queued.body.id}`);
      expect(queued.body).toMatchObject({ state: 'queued', bytes: Buffer.byteLength(body) });
      const done = await until(queued.body.id, 'done');
      expect(done).toMatchObject({ rowsRead: 1_001, published: 1_000, badRows: 1, bytesRead: Buffer.byteLength(body) });
      expect(done.badSamples).toEqual([{ line: 1_002, reason: 'value: must be a finite number, got "not-a-number"' }]);
      const readings = await inStream();
      expect(readings).toHaveLength(1_000);
      expect(new Set(readings.map((r) => r.id)).size).toBe(1_000);
    } finally {
      await worker.stop();
    }
  });

  it('takes gzip (NDJSON here), and a chunked upload without Content-Length', async () => {
    const { upload, until, inStream, worker } = importsApi();
    try {
      const ndjson = `${Array.from({ length: 500 }, (_, i) => JSON.stringify({ deviceId: 'gz', metric: 'kwh', value: i, unit: 'kWh', ts: 1_764_000_000_000 + i })).join('\n')}\n`;
      const compressed = Bun.gzipSync(Buffer.from(ndjson));
      const chunked = new ReadableStream({
        start(controller) {
          for (let i = 0; i < compressed.length; i += 1_000) controller.enqueue(compressed.subarray(i, i + 1_000));
          controller.close();
        },
      });
      const queued = await upload(chunked, { 'content-type': 'application/gzip' });
      expect(queued.status).toBe(202);
      expect(await until(queued.body.id, 'done')).toMatchObject({
        published: 500,
        badRows: 0,
        bytes: compressed.byteLength,
      });
      expect((await inStream()).map((r) => r.value)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    } finally {
      await worker.stop();
    }
  });

  it('shares the worker fairly: a small import sent behind a big one is done while the big one still runs', async () => {
    const { upload, until, call, worker } = importsApi();
    try {
      const big = await upload(csv(200_000));
      await waitFor(async () => (await call('GET', `/imports/${big.body.id}`)).body.rowsRead > 0, {
        what: 'the big one running',
      });
      const small = await upload(csv(300, 500_000));
      await until(small.body.id, 'done');
      const bigNow = (await call('GET', `/imports/${big.body.id}`)).body;
      expect(bigNow.state).toBe('running');
      expect(bigNow.rowsRead).toBeLessThan(200_000);
      expect(bigNow.etaSeconds).toBeGreaterThanOrEqual(0);
      // And cancelling stops it, its upload removed.
      expect((await call('DELETE', `/imports/${big.body.id}`)).status).toBe(202);
      const cancelled = await until(big.body.id, 'cancelled');
      expect(cancelled.rowsRead).toBeLessThan(200_000);
      const listed = (await call('GET', '/imports')).body.imports.map((job: { id: string; state: string }) => [
        job.id,
        job.state,
      ]);
      expect(listed).toEqual([
        [small.body.id, 'done'],
        [big.body.id, 'cancelled'],
      ]);
    } finally {
      await worker.stop();
    }
  });

  it('refuses what is over its limits: 413 past IMPORT_MAX_BYTES (declared or not), 429 past IMPORT_MAX_JOBS, 422 empty, 404 unknown', async () => {
    const { upload, call, worker, uploads } = importsApi({ maxBytes: 10_000, maxJobs: 1 });
    try {
      expect((await upload(csv(1_000))).body).toMatchObject({ error: 'body_too_large' });
      const chunked = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(csv(1_000)));
          controller.close();
        },
      });
      expect((await upload(chunked)).status).toBe(413);
      expect((await upload('')).status).toBe(422);
      // Nothing of the refused uploads is left on disk.
      expect(existsSync(uploads) ? [...new Bun.Glob('*').scanSync(uploads)] : []).toEqual([]);
      await worker.stop();
      expect((await upload(csv(10))).status).toBe(202);
      const second = await upload(csv(10));
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('10');
      expect((await call('GET', '/imports/nope')).status).toBe(404);
    } finally {
      await worker.stop();
    }
  });
});

describe('imports with Redis away', () => {
  it('answers 503 with Retry-After, keeping no upload, and works again once Redis is back', async () => {
    const own = await startRedisServer();
    // As the API holds it: fail fast.
    const connection = createRedis(own.url, {
      name: 'api',
      failFast: true,
      commandTimeoutMs: 1_000,
      maxReconnectDelayMs: 100,
    });
    await waitFor(() => connection.status === 'ready', { what: 'Redis' });
    const uploads = join(dir, 'redis-away');
    const app = createApp({
      store: testStore(),
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: quiet,
      imports: {
        jobs: importJobs(connection, uniqueName('imports')),
        dir: uploads,
        maxBytes: 1_000_000,
        maxJobs: 5,
        owner: 'here',
      },
    });
    const call = (method: string, path: string, body?: string) =>
      app.handle(
        new Request(`http://localhost${path}`, {
          method,
          headers: { authorization: `Bearer ${TEST_TOKEN}` },
          ...(body ? { body } : {}),
        }),
      );
    try {
      await own.kill();
      for (const [method, path, body] of [
        ['GET', '/imports/some-id'],
        ['GET', '/imports'],
        ['POST', '/imports', csv(10)],
      ] as const) {
        const response = await call(method, path, body);
        expect({
          method,
          path,
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          error: ((await response.json()) as { error: string }).error,
        }).toEqual({
          method,
          path,
          status: 503,
          retryAfter: '1',
          error: 'imports_unavailable',
        });
      }
      expect(existsSync(uploads) ? [...new Bun.Glob('*').scanSync(uploads)] : []).toEqual([]);
      await own.restart();
      await waitFor(async () => (await call('GET', '/imports')).status === 200, { what: 'Redis back' });
    } finally {
      connection.disconnect();
      await own.stop();
    }
  });
});

describe('imports through an API restart', () => {
  it('goes on from the last committed line after kill -9: every row in the stream, under one id each', async () => {
    const stream = uniqueName('restart-readings');
    // A group that reads nothing holds the import back (backpressure) mid-file, where the API is killed.
    await redis.xgroup('CREATE', stream, 'holding', '$', 'MKSTREAM');
    const port = await freePort();
    const env = {
      REDIS_URL: server.url,
      READINGS_STREAM: stream,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'restart.db'),
      API_TOKEN: TEST_TOKEN,
      IMPORT_DIR: join(dir, 'restart-uploads'),
      IMPORT_MAX_BACKLOG: '20000',
      EXPECTED_WORKERS: '',
    };
    const base = `http://127.0.0.1:${port}`;
    const entry = join(import.meta.dir, '../../index.ts');
    let api = startService(entry, env);
    const total = 60_000;
    try {
      await waitFor(
        () =>
          fetch(`${base}/health`).then(
            (r) => r.status < 500,
            () => false,
          ),
        { what: 'API' },
      );
      const queued = await (
        await fetch(`${base}/imports`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'text/csv' },
          body: csv(total),
        })
      ).json();
      const job = async () =>
        (await (await fetch(`${base}/imports/${queued.id}`)).json()) as { state: string; rowsRead: number };
      await waitFor(async () => (await job()).rowsRead >= 20_000, { what: 'the import held back mid-file' });
      expect((await job()).rowsRead).toBeLessThan(total);
      await api.kill('SIGKILL');
      api = startService(entry, env);
      await waitFor(
        () =>
          fetch(`${base}/health`).then(
            (r) => r.status < 500,
            () => false,
          ),
        { what: 'API again' },
      );
      await redis.xgroup('DESTROY', stream, 'holding');
      await waitFor(async () => (await job()).state === 'done', {
        what: 'the import done after the restart',
        timeoutMs: 60_000,
      });
      const readings = await streamReadings(redis, stream);
      const idsByRow = new Map<string, Set<string>>();
      for (const reading of readings) {
        const key = `${reading.deviceId}@${reading.ts}`;
        idsByRow.set(key, (idsByRow.get(key) ?? new Set()).add(reading.id));
      }
      expect(idsByRow.size).toBe(total);
      expect([...idsByRow.values()].filter((ids) => ids.size !== 1)).toEqual([]);
      expect(await job()).toMatchObject({ state: 'done', rowsRead: total });
    } finally {
      await api.kill('SIGTERM');
    }
  }, 120_000);
});
