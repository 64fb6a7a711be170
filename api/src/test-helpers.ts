import { createLogger } from 'core';
import { createApp } from './app.ts';
import { DEFAULT_MAX_BODY_BYTES } from './config.ts';
import type { ReadingsStore } from './storage/port.ts';
import { openSqliteStore } from './storage/sqlite/store.ts';

export const TEST_TOKEN = 'test-token-0123456789';

/** A Response whose JSON tests read freely; each test asserts the shape it expects. */
export type TestResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export interface TestApi {
  store: ReadingsStore;
  app: ReturnType<typeof createApp>;
  /** Sends a request through `app.handle`, with the write token unless `headers` says otherwise. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
  /** Rows stored, counted through the storage port. */
  rowCount(): Promise<number>;
}

/** A fresh store for a test: SQLite in memory, through the port like every backend. */
export function testStore(): ReadingsStore {
  return openSqliteStore(':memory:');
}

/** A real app on a fresh in-memory SQLite, quiet unless a test asks for logs. */
export function createTestApi(config: { apiToken?: string; readToken?: string; maxBodyBytes?: number } = {}): TestApi {
  const store = testStore();
  const app = createApp({
    store,
    config: {
      apiToken: 'apiToken' in config ? config.apiToken : TEST_TOKEN,
      readToken: config.readToken,
      maxBodyBytes: config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
  });
  return {
    store,
    app,
    request(method, path, body, headers = { authorization: `Bearer ${TEST_TOKEN}` }) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        // As every HTTP client does; app.handle does not add it.
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
        (init.headers as Record<string, string>)['content-length'] = String(Buffer.byteLength(init.body as string));
      }
      return app.handle(new Request(`http://localhost${path}`, init));
    },
    rowCount: () => store.count({}),
  };
}

let sequence = 0;
/** A valid reading body; ids sort in creation order. */
export function readingBody(overrides: Record<string, unknown> = {}) {
  sequence += 1;
  return {
    id: `r-${String(sequence).padStart(8, '0')}`,
    deviceId: 'device-001',
    metric: 'kwh',
    value: 42,
    unit: 'kWh',
    ts: '2026-11-22T10:00:00.000Z',
    ...overrides,
  };
}
