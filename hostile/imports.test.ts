import { describe, expect, it } from 'bun:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MAX_LINE_BYTES } from 'core';
import { streamReadings, uniqueName, waitFor } from 'core/testing';
import { startImportWorker } from '../api/src/modules/imports/worker.ts';
import { importsApi as uploadingApi, quiet, useTestGround } from './support.ts';

// Hostile uploads: a gzip bomb (10 GB of NUL bytes in 10 MB), lines far past any reading's
// length, a header of thousands of columns, a gzip cut short. Each costs its job or its line,
// never the API.
const ground = useTestGround('imports');

function importsApi() {
  const api = uploadingApi(ground.redis, join(ground.dir, uniqueName('uploads').replaceAll(':', '-')));
  const finished = (id: string) =>
    waitFor(
      async () => {
        const job = (await api.call('GET', `/imports/${id}`)).body;
        return ['done', 'failed'].includes(job.state) && job;
      },
      { what: `import ${id} finished`, timeoutMs: 60_000 },
    );
  return { ...api, finished };
}

/** 10 GiB of NUL bytes, no newline, as 160 gzip members of 64 MiB each: about 10 MB to send. */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: 160 }, () => member));
}

const goodRows = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => `dev-${i % 5},kwh,${i},kWh,${1_764_000_000_000 + from + i}`).join('\n');

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
    expect(await streamReadings(ground.redis, stream)).toHaveLength(10);
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
    expect(await streamReadings(ground.redis, stream)).toHaveLength(8);
  });

  it('refuse a header of thousands of columns and an NDJSON line without end, by line', async () => {
    const { call, finished } = importsApi();
    const wide = await finished(
      (
        await call(
          'POST',
          '/imports',
          `deviceId,metric,value,unit,ts,${Array.from({ length: 5_000 }, (_, i) => `c${i}`).join(',')}\n1,2\n`,
        )
      ).body.id,
    );
    expect(wide).toMatchObject({ state: 'done', published: 0, badRows: 1 });
    expect(wide.badSamples[0].reason).toContain('at most 64');
    const nested = `${'['.repeat(50_000)}\n{"deviceId":"d","metric":"m","value":1,"unit":"u","ts":1764000000000}\n`;
    const ndjson = await finished((await call('POST', '/imports', `{"x":1}\n${nested}`)).body.id);
    expect(ndjson).toMatchObject({ state: 'done', published: 1, badRows: 2 });
  });

  it('fail a gzip cut short instead of retrying it for ever', async () => {
    const { call, finished } = importsApi();
    const whole = gzipSync(`deviceId,metric,value,unit,ts\n${goodRows(50_000)}\n`);
    const job = await finished(
      (await call('POST', '/imports', new Uint8Array(whole.subarray(0, whole.length >> 1)))).body.id,
    );
    expect(job.state).toBe('failed');
    expect(job.error).toContain('cannot read the upload');
  });

  it('fail a job its worker died on twice instead of taking it up a third time', async () => {
    const { jobs, owner, worker } = importsApi();
    await worker.stop();
    const file = join(ground.dir, 'crashed.upload');
    await writeFile(file, `deviceId,metric,value,unit,ts\n${goodRows(5)}\n`);
    const id = uniqueName('job');
    await jobs.create({
      id,
      state: 'running',
      owner,
      file,
      bytes: 100,
      createdAt: Date.now(),
      startedAt: Date.now(),
      bytesRead: 0,
      rowsRead: 0,
      published: 0,
      badRows: 0,
      badSamples: [],
      committedLine: 0,
      cancelRequested: false,
      crashes: 1,
    });
    const again = startImportWorker({
      redis: ground.redis,
      jobs,
      stream: uniqueName('readings'),
      owner,
      maxBacklog: 1_000_000,
      logger: quiet,
    });
    const failed = await waitFor(
      async () => {
        const job = await jobs.get(id);
        return job?.state === 'failed' && job;
      },
      { what: 'the job failed' },
    );
    expect(failed.error).toContain('not taken up again');
    expect(again.problems().join(' ')).toContain(`import ${id} failed`);
    await again.stop();
  });
});
