/**
 * GET /alerts/stream over an alerts stream in partitions (STREAM_PARTITIONS): one device's feed is
 * its partition's, every device's merges them, and a merged client that stops reading is dropped
 * by its partitions' bounded queues as a client of one feed is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { connect } from 'node:net';
import { type Alert, alertStreamOf, createLogger, createRedis, encodeAlert, newEventId, readingStreams } from 'core';
import { type TestRedis, uniqueName, useRedis, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../../app.ts';
import { testStore } from '../../test-helpers.ts';

const PARTITIONS = 3;
let testRedis: TestRedis;
let redis: Redis;
const feedConnections: Redis[] = [];
let base: string;
let server: ReturnType<ReturnType<typeof createApp>['listen']>;
const alertsStream = uniqueName('alerts');
const partitions = readingStreams(alertsStream, PARTITIONS).streams;

beforeAll(async () => {
  testRedis = await useRedis();
  redis = createRedis(testRedis.url, { name: 'alerts-feeds-test' });
  const app = createApp({
    store: testStore(),
    config: { apiToken: 't', readToken: undefined, maxBodyBytes: 4_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    pipeline: { redis, streams: partitions, expectedWorkers: [], lagDegraded: 1_000 },
    alertsFeed: partitions.map((stream) => {
      const blockingRedis = createRedis(testRedis.url, { name: 'alerts-feeds-test:feed' });
      feedConnections.push(blockingRedis);
      return { blockingRedis, stream };
    }),
  });
  server = app.listen({ port: 0, hostname: '127.0.0.1' });
  base = `http://127.0.0.1:${server.server?.port}`;
});
afterAll(async () => {
  await server.stop(true);
  for (const connection of [redis, ...feedConnections]) connection.disconnect();
  await testRedis.stop();
});

const alert = (deviceId: string): Alert => ({
  id: newEventId(),
  ruleId: 'default',
  deviceId,
  metric: 'kwh',
  value: 70,
  threshold: 50,
  state: 'firing',
  severity: 'warning',
  ts: Date.now(),
  readingId: newEventId(),
});
/** Raised as the evaluator of its device's partition raises it. */
const raise = (raised: Alert) =>
  redis.xadd(alertStreamOf(alertsStream, PARTITIONS, raised.deviceId), '*', ...encodeAlert(raised));

async function liveAlertClients(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('api_live_clients{feed="alerts"} '));
  return Number(line?.split(' ')[1]);
}

/** An SSE client over fetch that collects the alerts' ids. */
function listen(path: string) {
  const ids: string[] = [];
  const abort = new AbortController();
  const done = (async () => {
    const response = await fetch(`${base}${path}`, { signal: abort.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as ReadableStream<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const data = buffer
            .slice(0, end)
            .split('\n')
            .find((line) => line.startsWith('data: '));
          buffer = buffer.slice(end + 2);
          if (data) ids.push((JSON.parse(data.slice('data: '.length)) as { id: string }).id);
        }
      }
    } catch {
      // Aborted by the test.
    }
  })();
  return { ids, close: () => abort.abort(), done };
}

describe('GET /alerts/stream over partitions', () => {
  it("merges every partition's alerts for every device, and follows one device's partition", async () => {
    const devices = Array.from({ length: 12 }, (_, index) => `pump-${index}`);
    // Devices in every partition.
    expect(new Set(devices.map((device) => alertStreamOf(alertsStream, PARTITIONS, device))).size).toBe(PARTITIONS);
    const earlier = devices.map(alert);
    for (const raised of earlier) await raise(raised);

    const everyone = listen('/alerts/stream');
    const one = listen('/alerts/stream?deviceId=pump-3');
    await waitFor(() => everyone.ids.length === earlier.length && one.ids.length === 1, { what: 'the backlog' });
    expect([...everyone.ids].sort()).toEqual(earlier.map((a) => a.id).sort());
    expect(one.ids).toEqual([(earlier[3] as Alert).id]);

    const live = devices.map(alert);
    for (const raised of live) await raise(raised);
    await waitFor(() => everyone.ids.length === 24 && one.ids.length === 2, { what: 'live alerts' });
    expect([...everyone.ids.slice(12)].sort()).toEqual(live.map((a) => a.id).sort());
    // Each device's alerts in order.
    for (const [index] of devices.entries())
      expect(everyone.ids.indexOf(earlier[index]?.id as string)).toBeLessThan(
        everyone.ids.indexOf(live[index]?.id as string),
      );
    expect(one.ids[1]).toBe(live[3]?.id);

    everyone.close();
    one.close();
    await waitFor(async () => (await liveAlertClients()) === 0, { what: 'the clients gone' });
  });

  it('drops a merged client that never reads: its partitions stop queueing for it', async () => {
    const socket = connect({ host: '127.0.0.1', port: server.server?.port as number });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /alerts/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
    socket.pause();
    await waitFor(async () => (await liveAlertClients()) === 1, { what: 'connected' });
    // ~15 MB of alerts in one partition: more than loopback buffers hold, so its queue bound drops it.
    const noisy = partitions.find((stream) => stream === alertStreamOf(alertsStream, PARTITIONS, 'noisy')) as string;
    for (let round = 0; round < 40; round++) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 1_000; i++)
        pipeline.xadd(noisy, '*', ...encodeAlert({ ...alert('noisy'), ruleId: 'r'.repeat(60) }));
      await pipeline.exec();
    }
    await waitFor(async () => (await liveAlertClients()) === 0, { what: 'the stalled client dropped' });
    socket.destroy();
  }, 60_000);
});
