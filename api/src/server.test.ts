import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestRedis, freePort, useRedis, waitFor } from 'core/testing';
import { TEST_TOKEN, type TestResponse, readingBody } from './test-helpers.ts';

const entry = join(import.meta.dir, 'index.ts');
const auth = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };

describe('the API as a process on 127.0.0.1', () => {
  let dir: string;
  let base: string;
  let child: ReturnType<typeof Bun.spawn>;
  let redis: TestRedis;

  beforeAll(async () => {
    // A Redis of the test's own: never the machine's on 6379.
    redis = await useRedis();
    dir = await mkdtemp(join(tmpdir(), 'api-test-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = Bun.spawn(['bun', entry], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        DATABASE_URL: join(dir, 'telemetry.db'),
        API_TOKEN: TEST_TOKEN,
        MAX_BODY_BYTES: String(2 * 1024 * 1024),
        LOG_LEVEL: 'warn',
      },
      stdout: 'inherit',
      stderr: 'inherit',
    });
    await waitFor(
      () =>
        fetch(`${base}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      { what: 'API to listen' },
    );
  });
  afterAll(async () => {
    child.kill('SIGTERM');
    await child.exited;
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const countRows = async () => (await ((await fetch(`${base}/stats`)) as TestResponse).json()).count as number;

  it('stores each reading once when the same ids arrive concurrently', async () => {
    const before = await countRows();
    const batch = Array.from({ length: 1_000 }, (_, i) => readingBody({ deviceId: `device-${i}` }));
    const singles = batch.slice(0, 100);
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) }) as Promise<TestResponse>;
    const responses = await Promise.all([
      post('/readings/batch', { readings: batch }),
      post('/readings/batch', { readings: batch }),
      post('/readings/batch', { readings: batch }),
      ...singles.map((reading) => post('/readings', reading)),
      ...singles.map((reading) => post('/readings', reading)),
    ]);
    expect(responses.every((response) => response.ok)).toBe(true);
    const batchResults = await Promise.all(responses.slice(0, 3).map((response) => response.json()));
    const singleStatuses = responses.slice(3).map((response) => response.status);
    const inserted =
      batchResults.reduce((sum, result) => sum + result.inserted, 0) +
      singleStatuses.filter((status) => status === 201).length;
    expect(inserted).toBe(1_000);
    expect(batchResults.every((result) => result.inserted + result.duplicates === 1_000)).toBe(true);
    expect((await countRows()) - before).toBe(1_000);
  });

  it('answers 413 to an oversize body sent without Content-Length', async () => {
    const chunk = new TextEncoder().encode(`{"readings":[${'0,'.repeat(1_024 * 1_024)}`);
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(`${base}/readings/batch`, {
      method: 'POST',
      headers: auth,
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('streams an export of 200,000 rows at the pace of the client, in bounded memory', async () => {
    const total = 200_000;
    const existing = await countRows();
    for (let start = 0; start < total; start += 5_000) {
      const readings = Array.from({ length: 5_000 }, (_, i) =>
        readingBody({
          id: `export-${String(start + i).padStart(7, '0')}`,
          deviceId: `device-${(start + i) % 1_000}`.padEnd(120, '.'),
          unit: 'u'.repeat(32),
          ts: new Date(Date.UTC(2026, 0, 1) + (start + i) * 1_000).toISOString(),
        }),
      );
      const response = await fetch(`${base}/readings/batch`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ readings }),
      });
      expect(response.status).toBe(200);
    }
    const exportedRows = async () =>
      Number(/^api_readings_exported_total (\d+)/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    const response = await fetch(`${base}/readings/export?format=csv`);
    expect(response.headers.get('content-type')).toContain('text/csv');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const firstChunk = await reader.read();
    let text = decoder.decode(firstChunk.value, { stream: true });
    const first = text.slice(0, text.indexOf('\n'));
    // A client that pauses: a streamed export waits for it (socket and client buffers hold ~10 MB,
    // so rows are made long: ~45 MB in all), where a buffered one would have read every row.
    await Bun.sleep(500);
    expect(await exportedRows()).toBeLessThan(total / 2);
    let bytes = firstChunk.value?.length ?? 0;
    let lines = 0;
    for (;;) {
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines += 1;
      const next = await reader.read();
      if (next.done) break;
      bytes += next.value.length;
      text = decoder.decode(next.value, { stream: true });
    }
    expect(first).toBe('id,deviceId,metric,value,unit,ts,storedAt');
    expect(lines).toBe(existing + total + 1);
    expect(bytes).toBeGreaterThan(40_000_000);
    expect(await exportedRows()).toBe(existing + total);
  }, 60_000);

  it('a second API on a port in use stops, naming PORT, and the first keeps serving alone', async () => {
    const port = new URL(base).port;
    const second = Bun.spawn(['bun', entry], {
      env: {
        ...process.env,
        PORT: port,
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        DATABASE_URL: ':memory:',
        API_TOKEN: TEST_TOKEN,
        LOG_LEVEL: 'warn',
      },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(await second.exited).toBe(2);
    const output = (await new Response(second.stdout).text()) + (await new Response(second.stderr).text());
    expect(output).toContain(`PORT ${port} on 127.0.0.1 is already in use`);
    expect(output).not.toContain('    at ');
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('refuses to start with a bad setting, naming it', async () => {
    const bad = Bun.spawn(['bun', entry], {
      env: { ...process.env, PORT: 'eighty', MAX_BODY_BYTES: '12' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(await bad.exited).toBe(2);
    const output = await new Response(bad.stderr).text();
    expect(output).toContain('PORT: must be a whole number, got "eighty"');
    expect(output).toContain('MAX_BODY_BYTES: must be at least 1024');
  });
});
