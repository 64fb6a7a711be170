import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createLogger, createRedis } from 'core';
import { type RedisServer, startRedisServer, uniqueName, waitFor, streamReadings } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, testStore } from '../../test-helpers.ts';

let server: RedisServer;
let redis: Redis;
let apiRedis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'ingest-test', maxReconnectDelayMs: 100 });
  // As the API holds it: fail fast, so a Redis that is away is a 503 at once.
  apiRedis = createRedis(server.url, {
    name: 'api',
    failFast: true,
    commandTimeoutMs: 1_000,
    maxReconnectDelayMs: 100,
  });
  await waitFor(() => apiRedis.status === 'ready', { what: 'the API’s Redis connection' });
});
afterAll(async () => {
  redis.disconnect();
  apiRedis.disconnect();
  await server.stop();
});

function ingestApi() {
  const stream = uniqueName('readings');
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    ingest: { redis: apiRedis, stream },
  });
  const post = async (body: string, contentType = 'application/json') => {
    const response = await app.handle(
      new Request('http://localhost/ingest', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': contentType },
        body,
      }),
    );
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  };
  const inStream = () => streamReadings(redis, stream);
  return { post, inStream };
}

const now = () => new Date().toISOString();

describe('POST /ingest: readings into the stream', () => {
  it('takes one reading, mints its id, and answers 202 once it is in the stream in the contract’s form', async () => {
    const { post, inStream } = ingestApi();
    const ts = now();
    const answer = await post(JSON.stringify({ deviceId: 'pump-1', metric: 'temp', value: 21.5, unit: '°C', ts }));
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: 1 });
    expect(await inStream()).toEqual([
      { id: answer.body.ids[0], deviceId: 'pump-1', metric: 'temp', value: 21.5, unit: '°C', ts: Date.parse(ts) },
    ]);
  });

  it('takes an array and NDJSON, keeps given ids, and refuses bad items alone with the contract’s words', async () => {
    const { post, inStream } = ingestApi();
    const good = (id: string) => ({ id, deviceId: 'pump-2', metric: 'kwh', value: 1, unit: 'kWh', ts: Date.now() });
    const array = await post(
      JSON.stringify([
        good('a-1'),
        { ...good('a-2'), ts: '2026-02-30T00:00:00Z' },
        { ...good('a-3'), ts: Date.now() + 3 * 86_400_000 },
        good('a-4'),
      ]),
    );
    expect(array.status).toBe(202);
    expect(array.body.ids).toEqual(['a-1', 'a-4']);
    expect(array.body.refused.map((r: { index: number; path: string }) => [r.index, r.path])).toEqual([
      [1, '1.ts'],
      [2, '2.ts'],
    ]);
    expect(array.body.refused[1].message).toContain('more than 24 hours ahead');
    const ndjson = await post(
      `${JSON.stringify(good('n-1'))}\n{not json\n\n${JSON.stringify(good('n-2'))}\n`,
      'application/x-ndjson',
    );
    expect(ndjson.status).toBe(202);
    expect(ndjson.body).toMatchObject({
      accepted: 2,
      ids: ['n-1', 'n-2'],
      refused: [{ index: 1, message: 'line 2 is not valid JSON' }],
    });
    expect((await inStream()).map((reading) => reading.id)).toEqual(['a-1', 'a-4', 'n-1', 'n-2']);
  });

  it('answers 422 naming each item when none is valid, and 415 for a body that is neither JSON nor NDJSON', async () => {
    const { post, inStream } = ingestApi();
    const none = await post(
      JSON.stringify([{ deviceId: 'has space', metric: 'm', value: 1, unit: 'u', ts: now() }, 'x']),
    );
    expect(none.status).toBe(422);
    expect(none.body.details.map((d: { path: string }) => d.path)).toEqual(['0.deviceId', '1']);
    expect((await post('deviceId=1', 'text/plain')).status).toBe(415);
    expect(await inStream()).toEqual([]);
  });

  it('dates a reading without ts when the request first came (a device without a clock): a retry of it is the same reading', async () => {
    const { post, inStream } = ingestApi();
    const before = Date.now();
    const body = JSON.stringify([{ deviceId: 'clockless-1', metric: 'temp', value: 20, unit: 'C' }]);
    const first = await post(body);
    const again = await post(body);
    expect(first.status).toBe(202);
    expect(again.body.ids).toEqual(first.body.ids);
    const [stored, retried] = await inStream();
    expect(retried).toEqual(stored);
    expect(stored?.ts).toBeGreaterThanOrEqual(before);
    expect(stored?.ts).toBeLessThanOrEqual(Date.now());
    // Another body is received on its own.
    const other = await post(JSON.stringify([{ deviceId: 'clockless-2', metric: 'temp', value: 20, unit: 'C' }]));
    expect(other.body.ids).not.toEqual(first.body.ids);
  });

  it('answers 503 with Retry-After while Redis is away, having added nothing, and takes readings again once it is back', async () => {
    const { post, inStream } = ingestApi();
    const body = JSON.stringify([{ id: 'o-1', deviceId: 'd', metric: 'm', value: 1, unit: 'u', ts: now() }]);
    await server.kill();
    const away = await post(body);
    expect(away.status).toBe(503);
    expect(away.headers.get('retry-after')).toBe('1');
    expect(away.body.error).toBe('stream_unavailable');
    await server.restart();
    const back = await waitFor(
      async () => {
        const answer = await post(body);
        return answer.status === 202 && answer;
      },
      { what: 'ingest after Redis came back' },
    );
    expect(back.body.ids).toEqual(['o-1']);
    expect((await inStream()).map((reading) => reading.id)).toEqual(['o-1']);
  });
});
