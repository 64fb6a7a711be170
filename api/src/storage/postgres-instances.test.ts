/**
 * Several API instances on one PostgreSQL, over real HTTP: any instance serves any request, live
 * streams and caches see every instance's writes, and a database outage is a 503, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import { createLogger } from 'core';
import { type PostgresServer, startPostgresServer, waitFor } from 'core/testing';
import { createApp } from '../app.ts';
import { TEST_TOKEN, readingBody } from '../test-helpers.ts';
import type { ReadingsStore } from './port.ts';
import { openPostgresStore } from './postgres/store.ts';

let server: PostgresServer;
let databaseUrl: string;
const stores: ReadingsStore[] = [];
const listening: Array<{ stop(closeActive?: boolean): Promise<void> }> = [];
const auth = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };

/** An API instance on its own port over the shared database. */
async function instance(): Promise<string> {
  const store = await openPostgresStore(databaseUrl, { poolSize: 4, statementTimeoutMs: 5_000 });
  stores.push(store);
  const app = createApp({
    store,
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 4_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
  }).listen({ port: 0, hostname: '127.0.0.1' });
  listening.push({
    stop: async (closeActive) => {
      await app.stop(closeActive);
    },
  });
  return `http://127.0.0.1:${app.server?.port}`;
}

beforeAll(async () => {
  server = await startPostgresServer();
  databaseUrl = await server.createDatabase('instances');
});
afterAll(async () => {
  for (const app of listening) await app.stop(true);
  for (const store of stores) await store.close().catch(() => {});
  await server?.stop();
});

/** An SSE client over fetch collecting `{ id, data }` of reading events. */
function listen(url: string, headers: Record<string, string> = {}) {
  const messages: Array<{ id: string; data: { id: string } }> = [];
  const abort = new AbortController();
  void (async () => {
    try {
      const response = await fetch(url, { headers, signal: abort.signal });
      let buffer = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body as ReadableStream<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id && data && block.includes('event: reading')) messages.push({ id, data: JSON.parse(data) });
        }
      }
    } catch {
      // Aborted by the test.
    }
  })();
  return { messages, close: () => abort.abort() };
}

const post = (base: string, readings: unknown[]) =>
  fetch(`${base}/readings/batch`, { method: 'POST', headers: auth, body: JSON.stringify({ readings }) });

describe('several API instances on one PostgreSQL', () => {
  it('a reading stored through one instance reaches live clients of another, and resumes on a third', async () => {
    const [a, b, c] = [await instance(), await instance(), await instance()];
    const onB = listen(`${b}/readings/stream?deviceId=shared`);
    await Bun.sleep(200);
    const sent = Array.from({ length: 5 }, (_, i) =>
      readingBody({ deviceId: 'shared', ts: new Date(Date.UTC(2026, 10, 25, 9, 0, i)).toISOString() }),
    );
    expect((await post(a, sent.slice(0, 3))).status).toBe(200);
    await waitFor(() => onB.messages.length === 3, { what: 'readings from A on B' });
    expect(onB.messages.map((m) => m.data.id)).toEqual(sent.slice(0, 3).map((r) => r.id));
    onB.close();
    expect((await post(b, sent.slice(3))).status).toBe(200);
    const onC = listen(`${c}/readings/stream?deviceId=shared`, { 'last-event-id': onB.messages.at(-1)?.id as string });
    await waitFor(() => onC.messages.length === 2, { what: 'resumed on C' });
    expect(onC.messages.map((m) => m.data.id)).toEqual(sent.slice(3).map((r) => r.id));
    onC.close();
  });

  it("keeps every instance's latest-readings cache right when another instance writes", async () => {
    const [a, b] = [await instance(), await instance()];
    const latest = async (base: string) =>
      ((await (await fetch(`${base}/readings/latest?limit=1`)).json()) as Array<{ id: string }>)[0]?.id;
    await latest(b);
    const newest = readingBody({ deviceId: 'cache', ts: new Date().toISOString() });
    expect((await post(a, [newest])).status).toBe(200);
    await waitFor(async () => (await latest(b)) === newest.id, { what: "B sees A's write" });
  });

  it('stores each reading once when the same batch goes to three instances at once', async () => {
    const bases = [await instance(), await instance(), await instance()];
    const batch = Array.from({ length: 1_000 }, (_, i) =>
      readingBody({ deviceId: `dup-${i % 10}`, ts: new Date(Date.UTC(2026, 10, 24, 0, 0, 0, i)).toISOString() }),
    );
    const answers = await Promise.all(
      bases.map(async (base) => (await (await post(base, batch)).json()) as { inserted: number }),
    );
    expect(answers.reduce((sum, answer) => sum + answer.inserted, 0)).toBe(1_000);
  });

  it('answers 503 with Retry-After while PostgreSQL is down, /health says down, and recovers by itself', async () => {
    const api = await instance();
    await server.kill();
    const write = await post(api, [readingBody({ deviceId: 'outage', ts: new Date().toISOString() })]);
    expect(write.status).toBe(503);
    expect(write.headers.get('retry-after')).toBe('1');
    expect((await write.json()).error).toBe('storage_unavailable');
    const read = await fetch(`${api}/readings?limit=1`);
    expect(read.status).toBe(503);
    const health = await fetch(`${api}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { reasons: string[] }).reasons.join(' ')).toContain('database');
    await server.restart();
    await waitFor(
      async () => (await post(api, [readingBody({ deviceId: 'outage', ts: new Date().toISOString() })])).status === 200,
      { what: 'writes again', timeoutMs: 20_000 },
    );
    expect((await fetch(`${api}/health`)).status).toBe(200);
  }, 60_000);
});

describe('the API process with a DATABASE_URL it cannot use', () => {
  const entry = join(import.meta.dir, '../index.ts');
  for (const [label, url, expected] of [
    [
      'an unreachable PostgreSQL',
      'postgres://postgres@127.0.0.1:1/telemetry',
      'DATABASE_URL: cannot reach PostgreSQL at postgres@127.0.0.1:1/telemetry',
    ],
    [
      'a scheme no backend speaks',
      'mysql://root@127.0.0.1/telemetry',
      'mysql://…@127.0.0.1/telemetry\\" names no backend this API has',
    ],
  ] as const) {
    it(`stops at start on ${label}, naming DATABASE_URL, without a stack trace`, async () => {
      const child = Bun.spawn(['bun', entry], {
        env: { ...process.env, PORT: '0', DATABASE_URL: url, REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'warn' },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      expect(await child.exited).toBe(2);
      const output = (await new Response(child.stdout).text()) + (await new Response(child.stderr).text());
      expect(output).toContain(expected);
      expect(output).not.toContain('    at ');
    });
  }
});
