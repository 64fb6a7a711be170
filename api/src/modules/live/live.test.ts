import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { connect } from 'node:net';
import { createLogger, createRedis, encodeAlert, newEventId } from 'core';
import { type TestRedis, uniqueName, useRedis, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { testStore } from '../../test-helpers.ts';

let testRedis: TestRedis;
let redis: Redis;
let feedRedis: Redis;
let base: string;
let server: ReturnType<ReturnType<typeof createApp>['listen']>;
const alertsStream = uniqueName('alerts');
const auth = { authorization: 'Bearer t', 'content-type': 'application/json' };

beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'live-test' });
  feedRedis = createRedis(testRedis.url, { name: 'live-test:feed' });
  const app = createApp({
    store: testStore(),
    // Every test client comes from 127.0.0.1: room for the 100 stalled ones below.
    config: { apiToken: 't', readToken: undefined, maxBodyBytes: 4_000_000, maxStreamClientsPerIp: 250 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    pipeline: { redis, streams: [alertsStream], expectedWorkers: [], lagDegraded: 1_000 },
    alertsFeed: [{ blockingRedis: feedRedis, stream: alertsStream }],
  });
  server = app.listen({ port: 0, hostname: '127.0.0.1' });
  base = `http://127.0.0.1:${server.server?.port}`;
});
afterAll(async () => {
  await server.stop(true);
  redis.disconnect();
  feedRedis.disconnect();
  await testRedis.stop();
});

let clock = Date.UTC(2026, 10, 22, 8, 0, 0);
const reading = (deviceId = 'device-1', value = 42) => ({
  id: newEventId(),
  deviceId,
  metric: 'kwh',
  value,
  unit: 'kWh',
  ts: new Date((clock += 10)).toISOString(),
});
async function post(readings: unknown[]) {
  const response = await fetch(`${base}/readings/batch`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ readings }),
  });
  expect(response.status).toBe(200);
}

/** A client that asks for a stream and never reads a byte of it. */
async function stalledClient(path: string) {
  const socket = connect({ host: '127.0.0.1', port: server.server?.port as number });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  return socket;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1));
}
const liveClients = (feed: 'readings' | 'alerts') => metric(`api_live_clients{feed="${feed}"}`);

/** An SSE client over fetch that collects `{ id, event, data }` messages. */
function listen(path: string, headers: Record<string, string> = {}) {
  const messages: Array<{ id: string; event: string; data: { id: string; deviceId: string } }> = [];
  const abort = new AbortController();
  const done = (async () => {
    const response = await fetch(`${base}${path}`, { headers, signal: abort.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as ReadableStream<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => !line.startsWith(':') && line.includes(': '))
              .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
          );
          if (fields.data)
            messages.push({ id: fields.id as string, event: fields.event as string, data: JSON.parse(fields.data) });
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by the test.
    }
  })();
  return { messages, close: () => abort.abort(), done };
}

describe('GET /readings/stream', () => {
  it('sends the last 100 on connect, then each new reading in order', async () => {
    const seeded = Array.from({ length: 150 }, () => reading());
    await post(seeded);
    const client = listen('/readings/stream');
    await waitFor(() => client.messages.length === 100, { what: 'last 100' });
    expect(client.messages.map((m) => m.data.id)).toEqual(seeded.slice(50).map((r) => r.id));
    const fresh = Array.from({ length: 30 }, () => reading('device-2'));
    await post(fresh.slice(0, 10));
    await post(fresh.slice(10));
    await waitFor(() => client.messages.length === 130, { what: 'live readings' });
    expect(client.messages.slice(100).map((m) => m.data.id)).toEqual(fresh.map((r) => r.id));
    expect(client.messages.every((m) => m.event === 'reading')).toBe(true);
    client.close();
  });

  it('resumes after Last-Event-ID without a gap or a repeat, and filters by device', async () => {
    const first = listen('/readings/stream?deviceId=device-9');
    await post([reading('device-9'), reading('device-8'), reading('device-9')]);
    await waitFor(() => first.messages.length === 2, { what: 'two device-9 readings' });
    first.close();
    const lastId = first.messages.at(-1)?.id as string;
    const missed = [reading('device-9'), reading('device-9')];
    await post(missed);
    const second = listen('/readings/stream?deviceId=device-9', { 'last-event-id': lastId });
    await waitFor(() => second.messages.length >= 2, { what: 'missed readings' });
    await post([reading('device-9')]);
    await waitFor(() => second.messages.length === 3, { what: 'live after resume' });
    expect(second.messages.slice(0, 2).map((m) => m.data.id)).toEqual(missed.map((r) => r.id));
    expect(second.messages.every((m) => m.data.deviceId === 'device-9')).toBe(true);
    second.close();
  });

  it('with 100 clients that never read: every reading is stored, they are dropped, a reading client gets every reading', async () => {
    const healthy = listen('/readings/stream?deviceId=device-watched');
    const stalled = await Promise.all(Array.from({ length: 100 }, () => stalledClient('/readings/stream')));
    await waitFor(async () => (await liveClients('readings')) === 101, { what: 'all connected' });
    const watched: string[] = [];
    let stored = 0;
    for (let i = 0; i < 20; i++) {
      const batch = Array.from({ length: 2_000 }, (_, j) => ({
        ...reading(j % 100 === 0 ? 'device-watched' : `device-${j % 50}`),
        unit: 'u'.repeat(32),
      }));
      watched.push(...batch.filter((r) => r.deviceId === 'device-watched').map((r) => r.id));
      const response = await fetch(`${base}/readings/batch`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ readings: batch }),
      });
      expect(response.status).toBe(200);
      stored += (await response.json()).inserted;
    }
    expect(stored).toBe(40_000);
    await waitFor(async () => (await liveClients('readings')) === 1, { what: 'stalled clients dropped' });
    await waitFor(() => watched.every((id) => healthy.messages.some((m) => m.data.id === id)), {
      what: 'every watched reading received',
    });
    expect(healthy.messages.slice(-watched.length).map((m) => m.data.id)).toEqual(watched);
    expect(await metric('api_live_clients_dropped_total{feed="readings"}')).toBeGreaterThanOrEqual(100);
    for (const socket of stalled) socket.destroy();
    healthy.close();
  }, 60_000);

  it('sends a client far behind a reset and the most recent readings, not its whole gap', async () => {
    const gap = Array.from({ length: 6_000 }, () => reading('device-gap'));
    for (let i = 0; i < gap.length; i += 2_000) await post(gap.slice(i, i + 2_000));
    const behind = listen('/readings/stream?deviceId=device-gap', { 'last-event-id': '1' });
    await waitFor(() => behind.messages.length === 101, { what: 'reset and recent readings' });
    expect(behind.messages[0]?.event).toBe('reset');
    expect(behind.messages.slice(1).map((m) => m.data.id)).toEqual(gap.slice(-100).map((r) => r.id));
    behind.close();
  });

  it('drops a client that never reads, without slowing writes or other clients', async () => {
    const healthy = listen('/readings/stream?deviceId=device-fast');
    const stalled = await stalledClient('/readings/stream');
    await waitFor(async () => (await liveClients('readings')) === 2, { what: 'both connected' });
    // ~40 MB of readings: far more than socket buffers and the client's bounded queue can hold.
    for (let i = 0; i < 40; i++)
      await post(
        Array.from({ length: 5_000 }, () => ({
          ...reading(`device-${i % 50}`),
          unit: 'u'.repeat(32),
          metric: 'm'.repeat(60),
        })),
      );
    await post([reading('device-fast')]);
    await waitFor(async () => (await liveClients('readings')) === 1, { what: 'stalled client dropped' });
    await waitFor(() => healthy.messages.some((m) => m.data.deviceId === 'device-fast'), {
      what: 'healthy client still served',
    });
    stalled.destroy();
    healthy.close();
  }, 60_000);
});

describe('GET /alerts/stream', () => {
  const alert = (deviceId: string) => ({
    id: newEventId(),
    ruleId: 'default',
    deviceId,
    metric: 'kwh',
    value: 70,
    threshold: 50,
    state: 'firing' as const,
    severity: 'warning' as const,
    ts: Date.now(),
    readingId: newEventId(),
  });

  it('sends the last 100 alerts on connect, then new ones, and resumes by Last-Event-ID', async () => {
    const old = Array.from({ length: 120 }, (_, i) => alert(`d-${i}`));
    for (const a of old) await redis.xadd(alertsStream, '*', ...encodeAlert(a));
    const client = listen('/alerts/stream');
    await waitFor(() => client.messages.length === 100, { what: 'last 100 alerts' });
    expect(client.messages.map((m) => m.data.id)).toEqual(old.slice(20).map((a) => a.id));
    const live = alert('d-live');
    await redis.xadd(alertsStream, '*', ...encodeAlert(live));
    await waitFor(() => client.messages.length === 101, { what: 'live alert' });
    expect(client.messages[100]?.data.id).toBe(live.id);
    client.close();

    const missed = alert('d-missed');
    await redis.xadd(alertsStream, '*', ...encodeAlert(missed));
    const resumed = listen('/alerts/stream', { 'last-event-id': client.messages[100]?.id as string });
    await waitFor(() => resumed.messages.length === 1, { what: 'resumed alert' });
    expect(resumed.messages[0]?.data.id).toBe(missed.id);
    resumed.close();
  });
});

describe('GET /alerts/stream under stalled clients', () => {
  it('drops 100 clients that never read while a reading client gets every alert', async () => {
    const healthy = listen('/alerts/stream?deviceId=watched');
    const stalled = await Promise.all(Array.from({ length: 100 }, () => stalledClient('/alerts/stream')));
    await waitFor(async () => (await liveClients('alerts')) === 101, { what: 'all connected' });
    const watched: string[] = [];
    // ~15 MB per client: more than loopback socket buffers hold, so the queue bound is what drops them.
    for (let round = 0; round < 40; round++) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1_000; i++) {
        const deviceId = i % 100 === 0 ? 'watched' : `noisy-${i}`;
        const alert = {
          id: newEventId(),
          ruleId: 'r'.repeat(60),
          deviceId,
          metric: 'kwh',
          value: 70,
          threshold: 50,
          state: 'firing' as const,
          severity: 'warning' as const,
          ts: Date.now(),
          readingId: newEventId(),
        };
        if (deviceId === 'watched') watched.push(alert.id);
        pipeline.xadd(alertsStream, '*', ...encodeAlert(alert));
      }
      await pipeline.exec();
    }
    await waitFor(async () => (await liveClients('alerts')) === 1, { what: 'stalled clients dropped' });
    await waitFor(() => healthy.messages.length >= watched.length, { what: 'every watched alert received' });
    expect(healthy.messages.slice(-watched.length).map((m) => m.data.id)).toEqual(watched);
    for (const socket of stalled) socket.destroy();
    healthy.close();
  }, 60_000);
});

describe('live-stream caps', () => {
  /** An API with these caps on a port of its own; every client here comes from 127.0.0.1. */
  function cappedApi(maxStreamClients: number, maxStreamClientsPerIp: number) {
    const app = createApp({
      store: testStore(),
      config: { apiToken: 't', readToken: undefined, maxBodyBytes: 1_000_000, maxStreamClients, maxStreamClientsPerIp },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    });
    const listening = app.listen({ port: 0, hostname: '127.0.0.1' });
    return { url: `http://127.0.0.1:${listening.server?.port}`, stop: () => listening.stop(true) };
  }

  for (const [label, total, perIp, setting] of [
    ['per address', 100, 2, 'MAX_STREAM_CLIENTS_PER_IP'],
    ['in total', 2, 100, 'MAX_STREAM_CLIENTS'],
  ] as const) {
    it(`refuses a client past the cap ${label} with 429 and Retry-After, and admits one when a place frees`, async () => {
      const api = cappedApi(total, perIp);
      const open = [new AbortController(), new AbortController()];
      const first = await Promise.all(
        open.map((abort) => fetch(`${api.url}/readings/stream`, { signal: abort.signal })),
      );
      expect(first.map((r) => r.status)).toEqual([200, 200]);
      const refused = await fetch(`${api.url}/readings/stream`);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await refused.json()).message).toContain(setting);
      open[0]?.abort();
      await waitFor(
        async () => {
          const again = await fetch(`${api.url}/readings/stream`, { signal: AbortSignal.timeout(2_000) }).catch(
            () => undefined,
          );
          if (again?.status === 200) await again.body?.cancel();
          return again?.status === 200;
        },
        { what: 'a place freed' },
      );
      open[1]?.abort();
      await api.stop();
    });
  }
});
