/**
 * InfluxDB's write APIs through a real HTTP server on 127.0.0.1 and a real Redis: InfluxDB's own
 * JavaScript client (gzip, each precision, its retries) writing to /api/v2/write, the `influx`
 * v1 client writing to /write (Basic auth), v1's `?p=`, bad lines among good ones, device tokens,
 * and hostile bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { gzipSync } from 'node:zlib';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { type IPoint, InfluxDB as InfluxV1 } from 'influx';
import { type Reading, type TokenScope, createLogger, createRedis, createTokenVerifier, mintDeviceToken } from 'core';
import { type RedisServer, startRedisServer, streamReadings, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, testStore } from '../../test-helpers.ts';

const SECRET = 'line-protocol-test-secret-of-at-least-32-bytes';
let server: RedisServer;
let redis: Redis;
let apiRedis: Redis;
let base: string;
let stream: string;
let stop: () => void;

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis(server.url, { name: 'line-protocol-test' });
  apiRedis = createRedis(server.url, { name: 'api', failFast: true, commandTimeoutMs: 1_000 });
  await waitFor(() => apiRedis.status === 'ready', { what: 'the API’s Redis connection' });
  stream = uniqueName('readings');
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 100_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    ingest: { redis: apiRedis, stream },
    tokens: createTokenVerifier({ secret: SECRET }),
  });
  app.listen({ port: 0, hostname: '127.0.0.1' });
  base = `http://127.0.0.1:${app.server?.port}`;
  stop = () => app.stop();
});
afterAll(async () => {
  stop();
  redis.disconnect();
  apiRedis.disconnect();
  await server.stop();
});

/** The stream's readings from now on, by id (a reading written twice is one id, as storage keeps it). */
async function readingsSince(mark: number): Promise<Map<string, Reading>> {
  const all = await streamReadings(redis, stream);
  return new Map(all.slice(mark).map((reading) => [reading.id, reading]));
}
const streamLength = async () => (await streamReadings(redis, stream)).length;

const write = (path: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Token ${TEST_TOKEN}`, 'content-type': 'text/plain; charset=utf-8', ...headers },
    body,
  });

describe('line protocol in', () => {
  for (const precision of ['ns', 'us', 'ms', 's'] as const)
    it(`takes InfluxDB's client's points at precision ${precision}, gzipped, as readings — the same batch again stored once`, async () => {
      const mark = await streamLength();
      const at = new Date(Math.floor(Date.now() / 1_000) * 1_000 - 60_000);
      const writeApi = new InfluxDB({ url: base, token: TEST_TOKEN }).getWriteApi('org', 'bucket', precision, {
        gzipThreshold: 0,
        maxRetries: 0,
      });
      const points = () => [
        new Point('cpu')
          .tag('device', 'pump-1')
          .tag('unit', '%')
          .tag('site', 'north')
          .floatField('usage', 12.5)
          .timestamp(at),
        new Point('cpu').tag('host', 'pump-2').intField('count', 3).booleanField('up', true).timestamp(at),
        new Point('temp').tag('device', 'pump-1').tag('unit', '°C').floatField('value', 21.25).timestamp(at),
      ];
      writeApi.writePoints(points());
      await writeApi.flush();
      writeApi.writePoints(points());
      await writeApi.close();
      const stored = [...(await readingsSince(mark)).values()];
      expect(stored.map((r) => [r.deviceId, r.metric, r.value, r.unit, r.ts]).sort()).toEqual(
        [
          ['pump-1', 'cpu.usage', 12.5, '%', at.getTime()],
          ['pump-2', 'cpu.count', 3, '', at.getTime()],
          ['pump-2', 'cpu.up', 1, '', at.getTime()],
          ['pump-1', 'temp', 21.25, '°C', at.getTime()],
        ].sort(),
      );
      expect(await streamLength()).toBe(mark + 8);
    });

  for (const precision of ['n', 'u', 'ms', 's'] as const)
    it(`takes the influx v1 client's points at precision ${precision} through /write (Basic auth) — the same batch again stored once`, async () => {
      const mark = await streamLength();
      const port = Number(new URL(base).port);
      const client = new InfluxV1({
        host: '127.0.0.1',
        port,
        database: 'telemetry',
        username: 'any',
        password: TEST_TOKEN,
      });
      const at = new Date(Math.floor(Date.now() / 1_000) * 1_000 - 90_000);
      const points: IPoint[] = [
        { measurement: 'flow', tags: { device: 'valve-1', unit: 'l/min' }, fields: { rate: 3.5 }, timestamp: at },
        { measurement: 'flow', tags: { host: 'valve-2' }, fields: { value: 7, open: true }, timestamp: at },
      ];
      await client.writePoints(points, { precision });
      await client.writePoints(points, { precision });
      const stored = [...(await readingsSince(mark)).values()];
      expect(stored.map((r) => [r.deviceId, r.metric, r.value, r.unit, r.ts]).sort()).toEqual(
        [
          ['valve-1', 'flow.rate', 3.5, 'l/min', at.getTime()],
          ['valve-2', 'flow', 7, '', at.getTime()],
          ['valve-2', 'flow.open', 1, '', at.getTime()],
        ].sort(),
      );
      expect(await streamLength()).toBe(mark + 6);
      const wrong = new InfluxV1({
        host: '127.0.0.1',
        port,
        database: 'telemetry',
        username: 'any',
        password: 'wrong',
      });
      await expect(wrong.writePoints(points, { precision })).rejects.toThrow(/401/);
      expect(await streamLength()).toBe(mark + 6);
    });

  it('answers 400 naming the first bad line and how many, and writes the good ones (v1 /write with ?p=, precision s)', async () => {
    const mark = await streamLength();
    const s = Math.floor(Date.now() / 1_000) - 30;
    const body = [
      `power,device=meter-1,unit=kW value=4.5 ${s}`,
      `power,device=meter-1 label="on" ${s}`,
      'power,device=meter-2 value=oops',
      '# a comment',
      '',
      `power,device=meter-2,unit=kW value=7i ${s}`,
    ].join('\n');
    const answer = await fetch(`${base}/write?db=x&precision=s&u=any&p=${TEST_TOKEN}`, { method: 'POST', body });
    expect(answer.status).toBe(400);
    const error = (await answer.json()) as { code: string; message: string; line: number };
    expect(error).toMatchObject({ code: 'invalid', line: 2 });
    expect(error.message).toBe(
      'partial write: 2 line(s) refused, 2 reading(s) written; line 2: field label: string values are not readings (send numbers or booleans)',
    );
    const stored = [...(await readingsSince(mark)).values()];
    expect(stored.map((r) => [r.deviceId, r.value, r.ts])).toEqual([
      ['meter-1', 4.5, s * 1_000],
      ['meter-2', 7, s * 1_000],
    ]);
  });

  it('keeps a point written again with another value as the same id (a conflict for storage, not an overwrite); a point without a timestamp takes the time the body first came, a retry of it too', async () => {
    const mark = await streamLength();
    const ms = Date.now() - 10_000;
    expect((await write('/api/v2/write?precision=ms', `level,device=tank-1 value=1 ${ms}`)).status).toBe(204);
    expect((await write('/api/v2/write?precision=ms', `level,device=tank-1 value=2 ${ms}`)).status).toBe(204);
    const timed = await streamReadings(redis, stream);
    expect(new Set(timed.slice(mark).map((r) => r.id)).size).toBe(1);
    const undated = `level,device=tank-2 value=3\nlevel,device=tank-3 value=4`;
    expect((await write('/api/v2/write', undated)).status).toBe(204);
    expect((await write('/api/v2/write', undated)).status).toBe(204);
    const twice = (await streamReadings(redis, stream)).slice(mark + 2);
    expect(twice).toHaveLength(4);
    expect(twice.slice(2)).toEqual(twice.slice(0, 2));
  });

  it('takes device tokens for their own devices only: a foreign point refuses the whole body; an expired token is 401', async () => {
    const mint = (device: string, scopes: TokenScope[], ttlSeconds = 3_600) =>
      mintDeviceToken({ device, scopes, ttlSeconds, secret: SECRET });
    const own = await mint('pump-*', ['ingest']);
    const mark = await streamLength();
    expect((await write('/api/v2/write', 'temp,device=pump-9 value=1', { authorization: `Token ${own}` })).status).toBe(
      204,
    );
    const foreign = await write('/api/v2/write', 'temp,device=pump-9 value=1\ntemp,device=boiler value=2', {
      authorization: `Token ${own}`,
    });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { message: string }).message).toContain('not boiler; nothing was added');
    expect(await streamLength()).toBe(mark + 1);
    const readOnly = await mint('pump-*', ['read']);
    expect(
      (await write('/api/v2/write', 'temp,device=pump-9 value=1', { authorization: `Token ${readOnly}` })).status,
    ).toBe(403);
    const expired = await mint('pump-*', ['ingest'], -60);
    expect(
      (await write('/api/v2/write', 'temp,device=pump-9 value=1', { authorization: `Token ${expired}` })).status,
    ).toBe(401);
    expect((await write('/api/v2/write', 'temp,device=pump-9 value=1', { authorization: 'Token wrong' })).status).toBe(
      401,
    );
  });

  it('refuses hostile bodies without a 5xx: a gzip bomb, an oversized body, not gzip, not UTF-8, no lines, a bad precision', async () => {
    const bomb = new Uint8Array(gzipSync(Buffer.alloc(50_000_000, 'a')));
    const refused = await write('/api/v2/write', bomb, { 'content-encoding': 'gzip' });
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as { message: string }).message).toContain('inflates past');
    expect((await write('/api/v2/write', 'x'.repeat(200_000))).status).toBe(413);
    expect((await write('/api/v2/write', 'not gzip', { 'content-encoding': 'gzip' })).status).toBe(400);
    const notUtf8 = await write('/api/v2/write', new Uint8Array([0x6d, 0x20, 0x76, 0x3d, 0xff]));
    expect(notUtf8.status).toBe(400);
    expect(((await notUtf8.json()) as { error: string }).error).toBe('invalid_utf8');
    expect((await write('/api/v2/write', '# only a comment\n')).status).toBe(400);
    expect((await write('/api/v2/write?precision=h', 'temp,device=a value=1')).status).toBe(400);
    expect((await fetch(`${base}/ping`)).status).toBe(204);
  });
});
