import { describe, expect, it } from 'bun:test';
import { createLogger, createTokenVerifier, mintDeviceToken } from 'core';
import fc from 'fast-check';
import { createApp } from '../api/src/app.ts';
import { TEST_TOKEN, testStore } from '../api/src/test-helpers.ts';

// Hostile input: a device read token for pump-7 asking for pump-8 by giving `deviceId` twice or
// in another spelling — the authoriser checked the first value, the handler used the last.
const SECRET = 'a-device-token-secret-of-32-bytes!!';
const READ_TOKEN = 'the-read-token';

async function apiWithTwoDevices() {
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: READ_TOKEN, maxBodyBytes: 1_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    tokens: createTokenVerifier({ secret: SECRET }),
  });
  const readings = ['pump-7', 'pump-8'].map((deviceId, index) => ({
    id: `r-${index}`,
    deviceId,
    metric: 'kwh',
    value: 1,
    unit: 'kWh',
    ts: new Date(Date.now() - 1_000).toISOString(),
  }));
  const stored = await app.handle(
    new Request('http://localhost/readings/batch', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ readings }),
    }),
  );
  expect(stored.status).toBe(200);
  return app;
}

/** Ways to say "pump-7, and also pump-8" in one query string. */
const SPELLINGS = [
  'deviceId=pump-7&deviceId=pump-8',
  'deviceId=pump-8&deviceId=pump-7',
  'deviceId=pump-7&device%49d=pump-8',
  'device%49d=pump-8&deviceId=pump-7',
  'deviceId=pump-7&deviceId=pump-8&deviceId=pump-7',
  'deviceId=pump-7&deviceId%=pump-8',
  'deviceId=pump-7&%64eviceId=pump-8',
  'deviceId=pump-7&deviceId+=pump-8',
  'deviceId=pump-7&&deviceId=pump-8',
  'deviceId=pump%2D7&deviceId=pump-8',
  'deviceId=pump-8',
  'deviceId=pump%2D8',
  'deviceid=pump-7&deviceId=pump-8',
  'deviceId=pump-7&deviceId',
  'deviceId&deviceId=pump-8',
];
const ROUTES = ['/readings', '/readings/export', '/stats', '/readings/stream', '/alerts/stream'];

describe('repeated query parameters', () => {
  it("never let a device read token see another device's data, whatever the spelling", async () => {
    const app = await apiWithTwoDevices();
    const token = await mintDeviceToken({ device: 'pump-7', scopes: ['read'], ttlSeconds: 600, secret: SECRET });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.constantFrom(...SPELLINGS),
        fc.constantFrom('header', 'query'),
        async (route, query, carried) => {
          const inQuery = carried === 'query' && route.endsWith('/stream');
          const url = `http://localhost${route}?${query}${inQuery ? `&access_token=${token}` : ''}`;
          const response = await app.handle(
            new Request(url, { headers: inQuery ? {} : { authorization: `Bearer ${token}` } }),
          );
          if (route.endsWith('/stream')) {
            // A live stream shows nothing yet; what matters is whether it was let through.
            await response.body?.cancel().catch(() => {});
            if (response.status === 200) expect(new URLSearchParams(query).getAll('deviceId')).toEqual(['pump-7']);
            return;
          }
          const text = await response.text();
          expect(text).not.toContain('pump-8');
          if (response.status >= 400) expect([400, 403, 422]).toContain(response.status);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuse a parameter given twice on any route, naming it, and still answer one given once', async () => {
    const app = await apiWithTwoDevices();
    const read = { authorization: `Bearer ${READ_TOKEN}` };
    for (const path of [
      '/readings?limit=1&limit=2',
      '/readings/latest?deviceId=a&deviceId=b',
      '/health?x=1&x=2',
      '/stats?from=1&from=2',
    ]) {
      const response = await app.handle(new Request(`http://localhost${path}`, { headers: read }));
      expect(response.status).toBe(400);
      const body = await response.json();
      expect(body.error).toBe('repeated_parameter');
      expect(body.message).toContain('given more than once');
    }
    const once = await app.handle(new Request('http://localhost/readings?deviceId=pump-8', { headers: read }));
    expect(once.status).toBe(200);
    expect(await once.text()).toContain('pump-8');
  });
});
