import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { PUBLIC_READ_PATHS } from './app.ts';
import { MAX_JSON_DEPTH } from './json-body.ts';
import { TEST_TOKEN, createTestApi, readingBody } from './test-helpers.ts';

const READ_TOKEN = 'read-token-abcdef';

describe('one read rule: with READ_TOKEN set, nothing but the page shell and /health answers without it', () => {
  const api = createTestApi({ readToken: READ_TOKEN });
  const routes = [
    '/stats',
    '/readings',
    '/readings/latest',
    '/readings/export',
    '/readings/stream',
    '/alerts/stream',
    '/readings/r-1',
    '/metrics',
    '/openapi',
    '/openapi/json',
    '/health',
  ];
  const spelling = fc.constantFrom<(path: string) => string>(
    (p) => p,
    (p) => `${p}/`,
    (p) => `${p}//`,
    (p) => p.toUpperCase(),
    (p) => `/${p}`,
    (p) => p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`),
    (p) => `${p}?x=1`,
    (p) => `${p}/.`,
    (p) => `/readings/..${p}`,
    (p) => `${p}%2F`,
  );

  it('holds over generated paths and methods: no data without the token, ever', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        spelling,
        fc.constantFrom('GET', 'HEAD', 'OPTIONS'),
        async (route, spell, method) => {
          const path = spell(route);
          const response = await api.app.handle(new Request(`http://localhost${path}`, { method }));
          const pathname = new URL(`http://localhost${path}`).pathname;
          if (PUBLIC_READ_PATHS.has(pathname)) {
            expect(response.status).not.toBe(401);
            if (pathname === '/health' && method === 'GET')
              expect(Object.keys(await response.json()).sort()).toEqual(['reasons', 'status']);
          } else {
            expect(response.status).toBe(401);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers every route with the read token, and /health gives its details only then', async () => {
    const read = { authorization: `Bearer ${READ_TOKEN}` };
    for (const path of ['/stats', '/stats/', '/readings', '/readings/latest', '/metrics', '/openapi/json']) {
      expect((await api.request('GET', path, undefined, read)).status).toBe(200);
    }
    const health = await (await api.request('GET', '/health', undefined, read)).json();
    expect(health.checks.database.status).toBe('ok');
  });
});

describe('bad input is a fast 4xx, never a 500', () => {
  const api = createTestApi();
  const raw = (body: string | Uint8Array<ArrayBuffer>) =>
    api.app.handle(
      new Request('http://localhost/readings/batch', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TEST_TOKEN}`,
          'content-type': 'application/json',
          'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength),
        },
        body,
      }),
    );

  it('refuses a chunked body over MAX_BODY_BYTES with 413 as it arrives, whatever its type (the server itself takes imports far larger)', async () => {
    const api = createTestApi({ maxBodyBytes: 10_000 });
    for (const [path, type] of [
      ['/readings/batch', 'application/json'],
      ['/ingest', 'application/x-ndjson'],
      ['/readings', 'text/plain'],
    ] as const) {
      const endless = new ReadableStream({
        pull(controller) {
          controller.enqueue(new Uint8Array(4_096).fill(0x20));
        },
      });
      const response = await api.app.handle(
        new Request(`http://localhost${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': type },
          body: endless,
        }),
      );
      expect({ path, status: response.status, error: ((await response.json()) as { error: string }).error }).toEqual({
        path,
        status: 413,
        error: 'body_too_large',
      });
    }
  });

  it('refuses JSON nested 100,000 deep with 400 before parsing it', async () => {
    const response = await raw('['.repeat(100_000));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'too_deep',
      message: `request body nests JSON deeper than ${MAX_JSON_DEPTH} levels`,
    });
  });

  it('still counts brackets inside strings as text, not nesting', async () => {
    const response = await raw(JSON.stringify({ readings: [readingBody({ unit: '['.repeat(MAX_JSON_DEPTH) })] }));
    expect(response.status).toBe(200);
  });

  it('refuses invalid UTF-8 with 400 instead of replacing it silently', async () => {
    const body = new TextEncoder().encode(JSON.stringify({ readings: [readingBody({ unit: 'kWhX' })] }));
    body[body.indexOf('X'.charCodeAt(0))] = 0xff;
    const response = await raw(body);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('invalid_utf8');
    expect(await api.rowCount()).toBe(1);
  });

  it('refuses control characters in a unit (NUL, newline, escape) with 422 naming the field', async () => {
    for (const unit of ['k\u0000Wh', 'kWh\n', '\u001b[31m']) {
      const response = await api.request('POST', '/readings', readingBody({ unit }));
      expect(response.status).toBe(422);
      expect((await response.json()).details[0].path).toBe('unit');
    }
  });
});

describe('CSV export', () => {
  it('neutralises cells a spreadsheet would run as formulas; numbers stay numbers', async () => {
    const api = createTestApi();
    const readings = [
      readingBody({ unit: '=cmd|"/C calc"!A0', value: -3.5 }),
      readingBody({ unit: '@SUM(1+1)', deviceId: '-2', value: 1 }),
      readingBody({ unit: '+1+1', metric: 'kwh', value: 2 }),
      readingBody({ unit: 'kWh', value: 3 }),
    ];
    expect((await api.request('POST', '/readings/batch', { readings })).status).toBe(200);
    const csv = await (await api.request('GET', '/readings/export?format=csv')).text();
    const lines = csv.trim().split('\n').slice(1);
    expect(lines[0]).toContain(`,-3.5,"'=cmd|""/C calc""!A0",`);
    expect(lines[1]).toContain(`,-2,kwh,1,'@SUM(1+1),`);
    expect(lines[2]).toContain(`,2,'+1+1,`);
    expect(lines[3]).toContain(',3,kWh,');
  });
});
