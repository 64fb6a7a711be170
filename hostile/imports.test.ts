import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MAX_LINE_BYTES, createLogger, createRedis } from 'core';
import { type RedisServer, startRedisServer, streamReadings, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../api/src/app.ts';
import { importJobs } from '../api/src/modules/imports/jobs.ts';
import { startImportWorker } from '../api/src/modules/imports/worker.ts';
import { TEST_TOKEN, testStore } from '../api/src/test-helpers.ts';

// Hostile uploads: a gzip bomb (10 GB of NUL bytes in 10 MB), lines far past any reading's
// length, a header of thousands of columns, a gzip cut short. Each costs its job or its line,
// never the API.
let server: RedisServer;
let redis: Redis;
let dir: string;
const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'hostile-imports' });
  dir = await mkdtemp(join(tmpdir(), 'hostile-imports-'));
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function importsApi() {
  const stream = uniqueName('readings');
  const jobs = importJobs(redis, uniqueName('imports'));
  const owner = uniqueName('owner');
  const worker = startImportWorker({ redis, jobs, stream, owner, maxBacklog: 1_000_000, logger: quiet });
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: quiet,
    imports: { jobs, worker, dir: join(dir, uniqueName('uploads').replaceAll(':', '-')), maxBytes: 100_000_000, maxJobs: 20, owner },
  });
  const call = async (method: string, path: string, body?: BodyInit) => {
    const response = await app.handle(new Request(`http://localhost${path}`, { method, headers: { authorization: `Bearer ${TEST_TOKEN}` }, ...(body ? { body } : {}) }));
    return { status: response.status, body: (await response.json()) as any };
  };
  const finished = (id: string) =>
    waitFor(
      async () => {
        const job = (await call('GET', `/imports/${id}`)).body;
        return ['done', 'failed'].includes(job.state) && job;
      },
      { what: `import ${id} finished`, timeoutMs: 60_000 },
    );
  return { call, finished, worker, jobs, owner, stream };
}

/** 10 GiB of NUL bytes, no newline, as 160 gzip members of 64 MiB each: about 10 MB to send. */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: 160 }, () => member));
}

const goodRows = (count: number, from = 0) => Array.from({ length: count }, (_, i) => `dev-${i % 5},kwh,${i},kWh,${1_764_000_000_000 + from + i}`).join('\n');

describe('hostile uploads', () => {
  it('fail a gzip bomb as a job, naming it, and go on importing the next upload', async () => {
    const { call, finished, stream } = importsApi();
    const bomb = gzipBomb();
    const accepted = await call('POST', '/imports', new Uint8Array(bomb));
    expect(accepted.status).toBe(202);
    const failed = await finished(accepted.body.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('decompression bomb');
    const health = (await call('GET', '/health')).body;
    expect(health.reasons.join(' ')).toContain(`import ${accepted.body.id} failed`);

    const next = await call('POST', '/imports', `deviceId,metric,value,unit,ts\n${goodRows(10)}\n`);
    expect((await finished(next.body.id)).state).toBe('done');
    expect(await streamReadings(redis, stream)).toHaveLength(10);
  });

  it('count a line past the bound as one bad row and import the lines around it', async () => {
    const { call, finished, stream } = importsApi();
    const long = 'x'.repeat(8 * MAX_LINE_BYTES);
    const longCsvRow = `dev-1,kwh,${'1'.repeat(4 * MAX_LINE_BYTES)},kWh,1764000000000`;
    const file = `deviceId,metric,value,unit,ts\n${goodRows(3)}\n${long}\n${goodRows(3, 3)}\n${longCsvRow}\n${','.repeat(100_000)}\n${goodRows(2, 6)}`;
    const job = await finished((await call('POST', '/imports', file)).body.id);
    expect(job).toMatchObject({ state: 'done', published: 8, badRows: 3 });
    expect(job.badSamples.map((bad: { line: number }) => bad.line)).toEqual([5, 9, 10]);
    expect(job.badSamples[0].reason).toBe(`line is longer than ${MAX_LINE_BYTES} bytes; skipped`);
    expect(await streamReadings(redis, stream)).toHaveLength(8);
  });

  it('refuse a header of thousands of columns and an NDJSON line without end, by line', async () => {
    const { call, finished } = importsApi();
    const wide = await finished((await call('POST', '/imports', `deviceId,metric,value,unit,ts,${Array.from({ length: 5_000 }, (_, i) => `c${i}`).join(',')}\n1,2\n`)).body.id);
    expect(wide).toMatchObject({ state: 'done', published: 0, badRows: 1 });
    expect(wide.badSamples[0].reason).toContain('at most 64');
    const nested = `${'['.repeat(50_000)}\n{"deviceId":"d","metric":"m","value":1,"unit":"u","ts":1764000000000}\n`;
    const ndjson = await finished((await call('POST', '/imports', `{"x":1}\n${nested}`)).body.id);
    expect(ndjson).toMatchObject({ state: 'done', published: 1, badRows: 2 });
  });

  it('fail a gzip cut short instead of retrying it for ever', async () => {
    const { call, finished } = importsApi();
    const whole = gzipSync(`deviceId,metric,value,unit,ts\n${goodRows(50_000)}\n`);
    const job = await finished((await call('POST', '/imports', new Uint8Array(whole.subarray(0, whole.length >> 1)))).body.id);
    expect(job.state).toBe('failed');
    expect(job.error).toContain('cannot read the upload');
  });

  it('fail a job its worker died on twice instead of taking it up a third time', async () => {
    const { jobs, owner, worker } = importsApi();
    await worker.stop();
    const file = join(dir, 'crashed.upload');
    await writeFile(file, `deviceId,metric,value,unit,ts\n${goodRows(5)}\n`);
    const id = uniqueName('job');
    await jobs.create({ id, state: 'running', owner, file, bytes: 100, createdAt: Date.now(), startedAt: Date.now(), bytesRead: 0, rowsRead: 0, published: 0, badRows: 0, badSamples: [], committedLine: 0, cancelRequested: false, crashes: 1 });
    const again = startImportWorker({ redis, jobs, stream: uniqueName('readings'), owner, maxBacklog: 1_000_000, logger: quiet });
    const failed = await waitFor(async () => {
      const job = await jobs.get(id);
      return job?.state === 'failed' && job;
    }, { what: 'the job failed' });
    expect(failed.error).toContain('not taken up again');
    expect(again.problems().join(' ')).toContain(`import ${id} failed`);
    await again.stop();
  });
});
