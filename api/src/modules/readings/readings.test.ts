import { describe, expect, it } from 'bun:test';
import { TEST_TOKEN, createTestApi, readingBody } from '../../test-helpers.ts';

describe('POST /readings', () => {
  it('stores a reading (201), and the same id again answers 200 with the stored row', async () => {
    const api = createTestApi();
    const body = readingBody({ value: 51.5, unit: '°C', ts: '2026-11-22T11:00:00+01:00' });
    const first = await api.request('POST', '/readings', body);
    expect(first.status).toBe(201);
    const stored = await first.json();
    expect(stored).toMatchObject({ ...body, ts: '2026-11-22T10:00:00.000Z' });
    expect(Date.parse(stored.storedAt)).toBeGreaterThan(0);

    const again = await api.request('POST', '/readings', body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(stored);
    expect(await api.rowCount()).toBe(1);
  });

  it('generates a time-ordered id when none is given', async () => {
    const api = createTestApi();
    const { id, ...body } = readingBody();
    const response = await api.request('POST', '/readings', body);
    expect(response.status).toBe(201);
    expect((await response.json()).id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it.each([
    ['an unknown field', { extra: 1 }, 'extra'],
    ['a string value', { value: '42' }, 'value'],
    ['a value that overflows to Infinity', '1e400', 'value'],
    ['a deviceId with a space', { deviceId: 'a b' }, 'deviceId'],
    ['a 129-character deviceId', { deviceId: 'd'.repeat(129) }, 'deviceId'],
    ['a ts that is not a date-time', { ts: 'yesterday' }, 'ts'],
    ['a ts as epoch ms', { ts: 1_763_800_000_000 }, 'ts'],
    ['a ts before 1970', { ts: '1969-12-31T23:59:59Z' }, 'ts'],
    ['a ts more than a day ahead', { ts: '2999-01-01T00:00:00Z' }, 'ts'],
    ['a missing metric', { metric: undefined }, 'metric'],
  ])('refuses %s with 422 naming the field, storing nothing', async (_, change, path) => {
    const api = createTestApi();
    const body =
      change === '1e400'
        ? '{"deviceId":"d","metric":"m","value":1e400,"unit":"u","ts":"2026-11-22T10:00:00Z"}'
        : JSON.parse(JSON.stringify(readingBody(change as Record<string, unknown>)));
    const response = await api.request('POST', '/readings', body);
    expect(response.status).toBe(422);
    const error = await response.json();
    expect(error.error).toBe('validation');
    expect(error.details.map((detail: { path: string }) => detail.path)).toContain(path);
    expect(await api.rowCount()).toBe(0);
  });

  it('answers 422, not 500, to a field holding an object with its own toString', async () => {
    const api = createTestApi();
    const response = await api.request('POST', '/readings', readingBody({ unit: { toString: false } }));
    expect(response.status).toBe(422);
    expect((await response.json()).error).toBe('validation');
  });

  it('answers malformed JSON with 400', async () => {
    const api = createTestApi();
    const response = await api.request('POST', '/readings', '{"deviceId":');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'malformed_body', message: 'request body is not valid JSON' });
  });

  it('never echoes a huge input back', async () => {
    const api = createTestApi();
    const response = await api.request('POST', '/readings', readingBody({ deviceId: 'x'.repeat(100_000) }));
    expect(response.status).toBe(422);
    expect((await response.text()).length).toBeLessThan(1_000);
  });
});

describe('POST /readings/rows (the compact batch consumer-store sends)', () => {
  const row = (
    id: string,
    overrides: Partial<Record<'deviceId' | 'metric' | 'value' | 'unit' | 'ts', unknown>> = {},
  ) => {
    const r = {
      deviceId: 'pump-1',
      metric: 'temp',
      value: 21.5,
      unit: '°C',
      ts: Date.parse('2026-11-22T10:00:00.000Z'),
      ...overrides,
    };
    return [id, r.deviceId, r.metric, r.value, r.unit, r.ts];
  };

  it('stores rows as POST /readings/batch would, once by id, and names each bad row alone', async () => {
    const api = createTestApi();
    const rows = [
      row('rows-1'),
      row('rows-2', { value: 'hot' }),
      [1, 2],
      row('rows-3', { ts: Date.now() + 3 * 86_400_000 }),
      row('rows-4', { deviceId: 'pump 4' }),
      row('rows-5'),
    ];
    const response = await api.request('POST', '/readings/rows', { rows });
    expect(response.status).toBe(200);
    const answer = await response.json();
    expect(answer).toMatchObject({ inserted: 2, duplicates: 0, conflicts: 0 });
    expect(answer.refused.map((item: { index: number; path: string }) => [item.index, item.path])).toEqual([
      [1, 'rows.1.value'],
      [2, 'rows.2'],
      [3, 'rows.3.ts'],
      [4, 'rows.4.deviceId'],
    ]);
    expect(await (await api.request('GET', '/readings/rows-1')).json()).toMatchObject({
      id: 'rows-1',
      deviceId: 'pump-1',
      value: 21.5,
      ts: '2026-11-22T10:00:00.000Z',
    });
    expect(
      await (await api.request('POST', '/readings/rows', { rows: [row('rows-1'), row('rows-5')] })).json(),
    ).toMatchObject({ inserted: 0, duplicates: 2 });
    const none = await api.request('POST', '/readings/rows', { rows: [[1, 2]] });
    expect(none.status).toBe(422);
    expect((await api.request('POST', '/readings/rows', { rows: [row('x')] }, {})).status).toBe(401);
  });
});

describe('POST /readings/batch', () => {
  it('stores a batch once: the same batch again counts duplicates, including repeats inside a batch', async () => {
    const api = createTestApi();
    const readings = Array.from({ length: 50 }, (_, i) => readingBody({ deviceId: `device-${i}` }));
    const first = await api.request('POST', '/readings/batch', { readings: [...readings, readings[0]] });
    expect(await first.json()).toEqual({ inserted: 50, duplicates: 1, conflicts: 0 });
    const second = await api.request('POST', '/readings/batch', { readings });
    expect(await second.json()).toEqual({ inserted: 0, duplicates: 50, conflicts: 0 });
    expect(await api.rowCount()).toBe(50);
  });

  it('takes 5,000 readings and refuses 5,001', async () => {
    const api = createTestApi();
    const many = Array.from({ length: 5_001 }, () => readingBody());
    const over = await api.request('POST', '/readings/batch', { readings: many });
    expect(over.status).toBe(422);
    expect(await api.rowCount()).toBe(0);
    const full = await api.request('POST', '/readings/batch', { readings: many.slice(0, 5_000) });
    expect(await full.json()).toEqual({ inserted: 5_000, duplicates: 0, conflicts: 0 });
  });

  it('stores the valid items of a batch and names each refused one by index: one bad reading costs one reading', async () => {
    const api = createTestApi();
    const future = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const items = [
      readingBody(),
      readingBody({ value: null }),
      readingBody(),
      readingBody({ ts: future }),
      { nonsense: true },
    ];
    const response = await api.request('POST', '/readings/batch', { readings: items });
    expect(response.status).toBe(200);
    const answer = await response.json();
    expect(answer).toMatchObject({ inserted: 2, duplicates: 0, conflicts: 0 });
    expect(answer.refused.map((r: { index: number; path: string }) => [r.index, r.path])).toEqual([
      [1, 'readings.1.value'],
      [3, 'readings.3.ts'],
      [4, 'readings.4.deviceId'],
    ]);
    expect(answer.refused[1].message).toContain('more than 24 hours in the future');
    expect(await api.rowCount()).toBe(2);
  });

  it('refuses dates that do not exist instead of rolling them over (Feb 30th, hour 24), alone and in a batch', async () => {
    const api = createTestApi();
    for (const ts of ['2026-02-30T00:00:00Z', '2026-11-22T24:00:00Z']) {
      const single = await api.request('POST', '/readings', readingBody({ ts }));
      expect(single.status).toBe(422);
      expect((await single.json()).details).toEqual([
        { path: 'ts', message: 'is not a date-time that exists (a day past the end of its month, or hour 24?)' },
      ]);
    }
    const batch = await (
      await api.request('POST', '/readings/batch', {
        readings: [readingBody(), readingBody({ ts: '2026-04-31T08:00:00Z' })],
      })
    ).json();
    expect(batch).toMatchObject({ inserted: 1, refused: [{ index: 1, path: 'readings.1.ts' }] });
    expect((await api.request('GET', '/readings?from=2026-02-30T00:00:00Z')).status).toBe(422);
    expect(await api.rowCount()).toBe(1);
  });

  it('refuses a batch with 422 when no item is valid, naming each', async () => {
    const api = createTestApi();
    const response = await api.request('POST', '/readings/batch', {
      readings: [readingBody({ value: 'x' }), readingBody({ deviceId: 'has space' })],
    });
    expect(response.status).toBe(422);
    expect((await response.json()).details.map((d: { path: string }) => d.path)).toEqual([
      'readings.0.value',
      'readings.1.deviceId',
    ]);
    expect(await api.rowCount()).toBe(0);
  });

  it('counts the same id with other content as a conflict, keeps the first version and says which stays', async () => {
    const api = createTestApi();
    const original = readingBody({ value: 10 });
    await api.request('POST', '/readings/batch', { readings: [original] });
    const response = await api.request('POST', '/readings/batch', {
      readings: [readingBody(), { ...original, value: 99 }],
    });
    const answer = await response.json();
    expect(answer).toMatchObject({ inserted: 1, duplicates: 0, conflicts: 1 });
    expect(answer.conflicted).toEqual([
      { index: 1, id: original.id, stored: expect.objectContaining({ id: original.id, value: 10 }) },
    ]);
    expect((await (await api.request('GET', `/readings/${original.id}`)).json()).value).toBe(10);
    const metrics = await (await api.request('GET', '/metrics')).text();
    expect(metrics).toMatch(/^api_readings_conflicts_total 1$/m);
  });

  it('answers a single reading stored before with other content 409, naming each field with both values, and counts it', async () => {
    const api = createTestApi();
    const original = readingBody({ value: 10 });
    expect((await api.request('POST', '/readings', original)).status).toBe(201);
    expect((await api.request('POST', '/readings', original)).status).toBe(200);
    const conflicting = await api.request('POST', '/readings', { ...original, value: 99, unit: 'Wh' });
    expect(conflicting.status).toBe(409);
    expect(await conflicting.json()).toEqual({
      error: 'conflict',
      message: `reading ${original.id} is already stored with other content; the stored version stays (GET /readings/${original.id})`,
      details: [
        { path: 'value', message: 'stored 10, this request 99' },
        { path: 'unit', message: 'stored "kWh", this request "Wh"' },
      ],
    });
    expect((await (await api.request('GET', `/readings/${original.id}`)).json()).value).toBe(10);
    expect(await (await api.request('GET', '/metrics')).text()).toMatch(/^api_readings_conflicts_total 1$/m);
  });

  it('refuses an empty batch and a bare array', async () => {
    const api = createTestApi();
    expect((await api.request('POST', '/readings/batch', { readings: [] })).status).toBe(422);
    expect((await api.request('POST', '/readings/batch', [readingBody()])).status).toBe(422);
  });

  it('answers a body over MAX_BODY_BYTES with 413 before parsing it', async () => {
    const api = createTestApi({ maxBodyBytes: 10_000 });
    const readings = Array.from({ length: 200 }, () => readingBody());
    const response = await api.request('POST', '/readings/batch', { readings });
    expect(response.status).toBe(413);
    expect((await response.json()).error).toBe('body_too_large');
    expect(await api.rowCount()).toBe(0);
  });
});

describe('reading by id', () => {
  it('gets, patches value/unit/metric, and deletes; 404 when absent', async () => {
    const api = createTestApi();
    const body = readingBody();
    await api.request('POST', '/readings', body);
    expect((await (await api.request('GET', `/readings/${body.id}`)).json()).value).toBe(42);

    const patched = await api.request('PATCH', `/readings/${body.id}`, { value: 7.5, unit: 'Wh', metric: 'energy' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: body.id, value: 7.5, unit: 'Wh', metric: 'energy' });

    expect((await api.request('PATCH', `/readings/${body.id}`, { id: 'other' })).status).toBe(422);
    expect((await api.request('PATCH', `/readings/${body.id}`, {})).status).toBe(422);
    expect((await api.request('PATCH', '/readings/missing', { value: 1 })).status).toBe(404);

    const deleted = await api.request('DELETE', `/readings/${body.id}`);
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect((await api.request('DELETE', `/readings/${body.id}`)).status).toBe(404);
    const missing = await api.request('GET', `/readings/${body.id}`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe('not_found');
  });
});

describe('GET /readings and /readings/latest', () => {
  const seed = async () => {
    const api = createTestApi();
    const readings = Array.from({ length: 30 }, (_, i) =>
      readingBody({
        deviceId: i % 3 === 0 ? 'device-a' : 'device-b',
        metric: i % 2 ? 'temp' : 'kwh',
        ts: new Date(Date.UTC(2026, 10, 22, 10, i)).toISOString(),
      }),
    );
    await api.request('POST', '/readings/batch', { readings });
    return { api, readings };
  };

  it('filters by device, metric and a [from, to) window, newest first', async () => {
    const { api } = await seed();
    const response = await api.request(
      'GET',
      '/readings?deviceId=device-a&metric=kwh&from=2026-11-22T10:05:00Z&to=2026-11-22T10:24:00Z',
    );
    const { readings, nextCursor } = await response.json();
    expect(readings.map((r: { ts: string }) => r.ts.slice(11, 16))).toEqual(['10:18', '10:12', '10:06']);
    expect(nextCursor).toBeNull();
  });

  it('returns the newest readings, limit 1..1000', async () => {
    const { api } = await seed();
    const latest = await (await api.request('GET', '/readings/latest?limit=2')).json();
    expect(latest.map((r: { ts: string }) => r.ts.slice(11, 16))).toEqual(['10:29', '10:28']);
    expect((await (await api.request('GET', '/readings/latest')).json()).length).toBe(30);
  });

  it('never serves a stale latest list after a write, patch or delete', async () => {
    const { api } = await seed();
    const newestId = async () => (await (await api.request('GET', '/readings/latest?limit=1')).json())[0];
    const fresh = readingBody({ ts: '2026-11-22T12:00:00.000Z' });
    expect((await newestId()).ts).toBe('2026-11-22T10:29:00.000Z');
    await api.request('POST', '/readings', fresh);
    expect((await newestId()).id).toBe(fresh.id);
    await api.request('PATCH', `/readings/${fresh.id}`, { value: 1.25 });
    expect((await newestId()).value).toBe(1.25);
    await api.request('DELETE', `/readings/${fresh.id}`);
    expect((await newestId()).ts).toBe('2026-11-22T10:29:00.000Z');
  });

  it.each([
    'limit=-1',
    'limit=abc',
    'limit=1e9',
    'limit=0',
    'limit=1001',
    'limit=2.5',
    'cursor=bogus',
    'from=yesterday',
    'from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z',
    'device=x',
  ])('refuses %s with 422 naming the parameter', async (query) => {
    const { api } = await seed();
    const response = await api.request('GET', `/readings?${query}`);
    expect(response.status).toBe(422);
    const name = query.startsWith('from=2026') ? 'to' : (query.split('=')[0] as string);
    expect((await response.json()).details.map((d: { path: string }) => d.path)).toContain(name);
  });

  it('walks every row exactly once across pages, even while new rows arrive', async () => {
    const { api, readings } = await seed();
    const seen: string[] = [];
    let cursor: string | null = '';
    let arrivals = 0;
    while (cursor !== null) {
      const page = await (await api.request('GET', `/readings?limit=7${cursor ? `&cursor=${cursor}` : ''}`)).json();
      seen.push(...page.readings.map((r: { id: string }) => r.id));
      cursor = page.nextCursor;
      // Newer readings land between page requests; they must not shift or repeat older rows.
      await api.request(
        'POST',
        '/readings',
        readingBody({ ts: new Date(Date.UTC(2026, 10, 22, 11, arrivals++)).toISOString() }),
      );
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen)).toEqual(new Set(readings.map((r) => r.id)));
  });
});

describe('auth', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['an empty header', { authorization: '' }],
    ['a wrong token', { authorization: 'Bearer wrong' }],
    ['a lowercase scheme', { authorization: `bearer ${TEST_TOKEN}` }],
    ['no space after Bearer', { authorization: `Bearer${TEST_TOKEN}` }],
    ['Basic auth', { authorization: `Basic ${btoa(`user:${TEST_TOKEN}`)}` }],
  ];

  it.each(cases)('refuses writes with %s: 401, WWW-Authenticate, nothing changed', async (_, headers) => {
    const api = createTestApi();
    const existing = readingBody();
    await api.request('POST', '/readings', existing);
    for (const [method, path, body] of [
      ['POST', '/readings', readingBody()],
      ['POST', '/readings/batch', { readings: [readingBody()] }],
      ['PATCH', `/readings/${existing.id}`, { value: 1 }],
      ['DELETE', `/readings/${existing.id}`, undefined],
    ] as const) {
      const response = await api.request(method, path, body, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(await api.rowCount()).toBe(1);
    expect((await (await api.request('GET', `/readings/${existing.id}`)).json()).value).toBe(42);
  });

  it('does not accept the token in the query string', async () => {
    const api = createTestApi();
    for (const name of ['token', 'access_token', 'api_token']) {
      expect((await api.request('POST', `/readings?${name}=${TEST_TOKEN}`, readingBody(), {})).status).toBe(401);
    }
    expect(await api.rowCount()).toBe(0);
  });

  it('refuses writes with 503 and a hint when no API_TOKEN is configured', async () => {
    const api = createTestApi({ apiToken: undefined });
    const response = await api.request('POST', '/readings', readingBody());
    expect(response.status).toBe(503);
    expect((await response.json()).message).toContain('API_TOKEN');
    expect(await api.rowCount()).toBe(0);
  });

  it('leaves reads open, unless READ_TOKEN is set', async () => {
    expect((await createTestApi().request('GET', '/readings', undefined, {})).status).toBe(200);
    const guarded = createTestApi({ readToken: 'reader' });
    expect((await guarded.request('GET', '/readings', undefined, {})).status).toBe(401);
    expect((await guarded.request('GET', '/stats', undefined, {})).status).toBe(401);
    expect((await guarded.request('GET', '/readings', undefined, { authorization: 'Bearer reader' })).status).toBe(200);
    expect((await guarded.request('GET', '/health', undefined, {})).status).toBe(200);
  });
});
