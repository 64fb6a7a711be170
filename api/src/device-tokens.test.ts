import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { type TokenScope, createLogger, createRedis, createTokenVerifier, mintDeviceToken } from 'core';
import { type RedisServer, startRedisServer, streamReadings, uniqueName, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { createApp } from './app.ts';
import { TEST_TOKEN, testStore } from './test-helpers.ts';

const SECRET = 'a-device-token-secret-of-32-bytes!!';
const READ_TOKEN = 'the-read-token';
let server: RedisServer;
let apiRedis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  apiRedis = createRedis(server.url, { name: 'api', failFast: true, commandTimeoutMs: 1_000 });
  await waitFor(() => apiRedis.status === 'ready', { what: 'Redis' });
});
afterAll(async () => {
  apiRedis.disconnect();
  await server.stop();
});

function tokenApi(keys: { secret?: string; publicKey?: string } = { secret: SECRET }) {
  const stream = uniqueName('readings');
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: READ_TOKEN, maxBodyBytes: 1_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    ingest: { redis: apiRedis, stream },
    tokens: createTokenVerifier(keys),
  });
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }),
    );
    // Only errors are read (JSON); streams, metrics and pages are left unread.
    const error =
      response.headers.get('content-type')?.startsWith('application/json') && response.status >= 400
        ? await response.json()
        : undefined;
    await response.body?.cancel().catch(() => {});
    return { status: response.status, body: error };
  };
  return { call, inStream: async () => (await streamReadings(apiRedis, stream)).length };
}

const reading = (deviceId: string) => ({
  deviceId,
  metric: 'kwh',
  value: 1,
  unit: 'kWh',
  ts: new Date().toISOString(),
});
const mint = (device: string, scopes: TokenScope[], ttlSeconds = 3_600, secret = SECRET) =>
  mintDeviceToken({ device, scopes, ttlSeconds, secret });

describe('signed device tokens', () => {
  it('let a device ingest its own readings only; expired, tampered or foreign tokens are 401', async () => {
    const { call, inStream } = tokenApi();
    const pump7 = await mint('pump-7', ['ingest']);
    expect((await call('POST', '/ingest', pump7, reading('pump-7'))).status).toBe(202);
    const foreign = await call('POST', '/ingest', pump7, [reading('pump-7'), reading('pump-8')]);
    expect(foreign).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'this token publishes for pump-7 only, not pump-8; nothing was added' },
    });
    expect(await inStream()).toBe(1);
    expect(
      (await call('POST', '/ingest', await mint('pump-*', ['ingest']), [reading('pump-8'), reading('pump-9')])).status,
    ).toBe(202);
    expect(await inStream()).toBe(3);

    expect((await call('POST', '/ingest', await mint('pump-7', ['ingest'], -10), reading('pump-7'))).body.message).toBe(
      'token expired',
    );
    const [head, payload, signature] = pump7.split('.') as [string, string, string];
    const widened = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: '*' }),
    ).toString('base64url');
    for (const bad of [
      `${head}.${widened}.${signature}`,
      await mint('pump-7', ['ingest'], 3_600, 'another-secret-that-is-32-bytes-long'),
    ]) {
      expect(await call('POST', '/ingest', bad, reading('pump-7'))).toEqual({
        status: 401,
        body: { error: 'unauthorized', message: 'token invalid (tampered, malformed, or signed with another key)' },
      });
    }
    expect(await inStream()).toBe(3);
  });

  it('grant only their scope and route: read tokens cannot ingest, device tokens write nothing but /ingest; API_TOKEN still does all', async () => {
    const { call } = tokenApi();
    expect((await call('POST', '/ingest', await mint('pump-7', ['read']), reading('pump-7'))).body.message).toBe(
      "this token's scope is read; it may not ingest",
    );
    const ingestOnly = await call('POST', '/readings', await mint('*', ['ingest']), {
      id: 'r-1',
      ...reading('pump-7'),
    });
    expect(ingestOnly).toEqual({
      status: 403,
      body: {
        error: 'forbidden',
        message: 'device tokens may only POST /ingest and the line protocol doors; other writes need API_TOKEN',
      },
    });
    expect((await call('POST', '/ingest', TEST_TOKEN, reading('anything'))).status).toBe(202);
    expect((await call('POST', '/readings', TEST_TOKEN, { id: 'r-2', ...reading('pump-7') })).status).toBe(201);
  });

  it('read: the whole fleet with *, one device with ?deviceId= only, and in a stream URL only when short-lived', async () => {
    const { call } = tokenApi();
    const fleet = await mint('*', ['read']);
    for (const path of ['/readings', '/readings/latest', '/stats', '/metrics'])
      expect({ path, status: (await call('GET', path, fleet)).status }).toEqual({ path, status: 200 });
    const pump7 = await mint('pump-7', ['ingest', 'read']);
    expect((await call('GET', '/readings?deviceId=pump-7', pump7)).status).toBe(200);
    expect((await call('GET', '/stats?deviceId=pump-7', pump7)).status).toBe(200);
    for (const path of ['/readings?deviceId=pump-8', '/readings', '/readings/latest', '/metrics'])
      expect({ path, status: (await call('GET', path, pump7)).status }).toEqual({ path, status: 403 });
    // EventSource sends no header: a token expiring within the hour may come in the stream's URL.
    const shortLived = await mint('pump-7', ['read'], 600);
    expect((await call('GET', `/readings/stream?deviceId=pump-7&access_token=${shortLived}`)).status).toBe(200);
    const longLived = await call(
      'GET',
      `/readings/stream?deviceId=pump-7&access_token=${await mint('pump-7', ['read'], 86_400)}`,
    );
    expect(longLived.status).toBe(401);
    expect(longLived.body.message).toStartWith('a token in the query string must expire within 60 minutes');
    // Nowhere else: a URL token on a plain read is no token.
    expect((await call('GET', `/readings?deviceId=pump-7&access_token=${shortLived}`)).status).toBe(401);
    expect((await call('GET', '/readings', READ_TOKEN)).status).toBe(200);
    expect((await call('GET', '/readings')).status).toBe(401);
  });

  it("open /health's details to a read token for every device, as to READ_TOKEN; others see the summary, never an error", async () => {
    const app = createApp({
      store: testStore(),
      config: { apiToken: TEST_TOKEN, readToken: READ_TOKEN, maxBodyBytes: 1_000_000 },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
      tokens: createTokenVerifier({ secret: SECRET }),
    });
    const health = async (token?: string) => {
      const response = await app.handle(
        new Request('http://localhost/health', { headers: token ? { authorization: `Bearer ${token}` } : {} }),
      );
      return { status: response.status, keys: Object.keys((await response.json()) as object).sort() };
    };
    const details = ['checks', 'deadLetters', 'groups', 'reasons', 'status', 'workers'];
    expect(await health(READ_TOKEN)).toEqual({ status: 200, keys: details });
    expect(await health(await mint('*', ['read']))).toEqual({ status: 200, keys: details });
    for (const token of [
      undefined,
      await mint('pump-7', ['read']),
      await mint('*', ['ingest']),
      await mint('*', ['read'], -10),
    ]) {
      expect(await health(token)).toEqual({ status: 200, keys: ['reasons', 'status'] });
    }
  });

  it('verify Ed25519 tokens with the public key alone, and refuse an HS256 token there', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const { call } = tokenApi({ publicKey: await exportSPKI(publicKey) });
    const signed = await mintDeviceToken({
      device: 'pump-7',
      scopes: ['ingest'],
      ttlSeconds: 600,
      privateKey: await exportPKCS8(privateKey),
    });
    expect((await call('POST', '/ingest', signed, reading('pump-7'))).status).toBe(202);
    expect((await call('POST', '/ingest', await mint('pump-7', ['ingest']), reading('pump-7'))).body.message).toBe(
      'token signed with "HS256", which this API does not take',
    );
  });

  it('are minted by `bun run token`, alone on its last line, and accepted by the API', async () => {
    const child = Bun.spawn(
      [
        'bun',
        join(import.meta.dir, '../../scripts/token.ts'),
        '--device',
        'pump-7',
        '--scope',
        'ingest',
        '--ttl',
        '30d',
      ],
      {
        env: { ...process.env, TOKEN_SECRET: SECRET, TOKEN_PRIVATE_KEY: '' },
        stdout: 'pipe',
      },
    );
    const output = (await new Response(child.stdout).text()).trim().split('\n');
    expect(await child.exited).toBe(0);
    const { call } = tokenApi();
    expect((await call('POST', '/ingest', output.at(-1), reading('pump-7'))).status).toBe(202);
    expect(output[0]).toStartWith('device pump-7 · scope ingest · expires ');
  });
});
