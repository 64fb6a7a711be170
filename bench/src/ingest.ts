/**
 * Devices-in benchmark: the whole pipeline (own Redis with AOF everysec, API on SQLite,
 * consumer-store, consumer-alert) fed (1) over HTTP, POST /ingest with 1,000-reading requests
 * from 4 clients, and line protocol (POST /api/v2/write) with 5,000-line bodies, and (2) over MQTT through a Mosquitto of its own and ingest-mqtt, QoS 1, with
 * one reading per message and with 100 per message. Reports the rate into the stream (accepted),
 * the rate to storage, and the lead time from the moment a reading was sent to its row's commit.
 * Flags: --readings N (default 200,000 over HTTP; MQTT single readings use N / 4).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliNumber, createRedis, decodeReadingItems, parseCli } from 'core';
import { freePort, startMosquitto, startRedisServer, startService, waitFor } from 'core/testing';
import mqtt from 'mqtt';
import { formatLatency, int, summarize } from './pipeline/report.ts';
import { TOKEN, root, startStack } from './pipeline/stack.ts';
import { processUsage, profileFlags, sendFromClients, spawnApi } from './support.ts';

const { values } = parseCli({
  name: 'bench:ingest',
  usage: `Usage: bun run bench:ingest [--readings N] [--import-mb M]
  HTTP ingest (1,000-reading requests, 4 clients) and MQTT ingest (QoS 1; 1 and 100 readings per
  message) through the whole pipeline: accepted/s, stored/s, lead time sent → stored. Then an
  import of an M MB CSV (default 200) through POST /imports: rows/s stored, the API's peak RSS,
  and how long a 1 MB import sent while it runs takes.`,
  options: { readings: { type: 'string' }, 'import-mb': { type: 'string' } },
});
const total =
  values.readings === undefined
    ? 200_000
    : cliNumber('bench:ingest', 'readings', values.readings, { min: 1_000, integer: true });
const importMb =
  values['import-mb'] === undefined
    ? 200
    : cliNumber('bench:ingest', 'import-mb', values['import-mb'], { min: 1, integer: true });

type Reading = { deviceId: string; metric: string; value: number; unit: string; ts: number };
const reading = (i: number): Reading => ({
  deviceId: `device-${String(i % 1_000).padStart(4, '0')}`,
  metric: 'kwh',
  value: i % 97,
  unit: 'kWh',
  ts: Date.now(),
});

/** A line protocol body of `lines` points from reading `from` on: `kwh,device=…,unit=kWh value=… <ns>`. */
const lineProtocolBody = (from: number, lines: number) =>
  Array.from({ length: lines }, (_, j) => {
    const { deviceId, value, ts } = reading(from + j);
    return `kwh,device=${deviceId},unit=kWh value=${value} ${ts}${String(from + j)
      .padStart(6, '0')
      .slice(-6)}`;
  }).join('\n');

/** Waits until `count` rows are stored; resolves with the time the last one was seen. */
async function untilStored(stack: Awaited<ReturnType<typeof startStack>>, count: number): Promise<number> {
  for (;;) {
    if ((await stack.store.count({})) >= count) return performance.now();
    await Bun.sleep(20);
  }
}

/** Publishes `count` readings at QoS 1, `perMessage` a message, at most 200 messages unacknowledged; resolves when the broker took them all. */
async function publishMqtt(brokerUrl: string, clientId: string, count: number, perMessage: number): Promise<void> {
  const publisher = await mqtt.connectAsync(brokerUrl, { clientId });
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i += perMessage) {
    // One device's readings a message: the topic names it.
    const batch = Array.from({ length: perMessage }, (_, j) => {
      const { deviceId, ...rest } = reading(i + j);
      return rest;
    });
    const sent = publisher.publishAsync(
      `telemetry/${reading(i).deviceId}`,
      JSON.stringify(perMessage === 1 ? batch[0] : batch),
      { qos: 1 },
    );
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
    if (inFlight.size >= 200) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await publisher.endAsync();
}

/** A CSV of about `bytes` bytes, readings of 1,000 devices a second apart; resolves with its rows. */
async function makeCsv(path: string, bytes: number, device: string): Promise<number> {
  const writer = Bun.file(path).writer();
  writer.write('deviceId,metric,value,unit,ts\n');
  let written = 0;
  let rows = 0;
  const start = Date.now() - 86_400_000;
  while (written < bytes) {
    let chunk = '';
    for (let i = 0; i < 10_000; i++, rows++)
      chunk += `${device}-${rows % 1_000},kwh,${rows % 97},kWh,${start + rows}\n`;
    writer.write(chunk);
    written += chunk.length;
    await writer.flush();
  }
  await writer.end();
  return rows;
}

const results: string[] = [];

// 0. The HTTP door alone: Redis and the API, no consumers; bodies made before the clock starts.
{
  const dir = await mkdtemp(join(tmpdir(), 'bench-door-'));
  const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
  const api = await spawnApi({
    port: await freePort(),
    databaseUrl: join(dir, 'door.db'),
    token: TOKEN,
    env: { REDIS_URL: redisServer.url, EXPECTED_WORKERS: '', IMPORT_DIR: join(dir, 'uploads') },
  });
  try {
    const requests = Math.ceil(total / 1_000);
    const bodies = Array.from({ length: requests }, (_, index) =>
      JSON.stringify(Array.from({ length: 1_000 }, (_, j) => reading(index * 1_000 + j))),
    );
    let next = 0;
    const started = performance.now();
    await sendFromClients(
      `${api.url}/ingest`,
      () => bodies[next++],
      { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      202,
    );
    const seconds = (performance.now() - started) / 1_000;
    const usage = await processUsage(api.pid);
    results.push(
      `HTTP ingest door alone (API and Redis, no consumers), ${int(requests * 1_000)} readings in 1,000-reading requests from 4 clients: accepted ${int((requests * 1_000) / seconds)}/s; API CPU ${usage.cpuSeconds.toFixed(1)} s = ${((usage.cpuSeconds * 1e6) / (requests * 1_000)).toFixed(1)} µs per reading`,
    );

    // Line protocol, the same door: 5,000-line bodies (InfluxDB's clients send 1,000-5,000) from 4 clients.
    const lpRequests = Math.ceil(total / 5_000);
    const lpBodies = Array.from({ length: lpRequests }, (_, index) => lineProtocolBody(index * 5_000, 5_000));
    let lpNext = 0;
    const cpuBefore = usage.cpuSeconds;
    const lpStarted = performance.now();
    await sendFromClients(
      `${api.url}/api/v2/write?org=o&bucket=b&precision=ns`,
      () => lpBodies[lpNext++],
      { authorization: `Token ${TOKEN}`, 'content-type': 'text/plain; charset=utf-8' },
      204,
    );
    const lpSeconds = (performance.now() - lpStarted) / 1_000;
    const lpCpu = (await processUsage(api.pid)).cpuSeconds - cpuBefore;
    results.push(
      `Line protocol door alone (POST /api/v2/write), ${int(lpRequests * 5_000)} points in 5,000-line bodies from 4 clients: accepted ${int((lpRequests * 5_000) / lpSeconds)}/s; API CPU ${lpCpu.toFixed(1)} s = ${((lpCpu * 1e6) / (lpRequests * 5_000)).toFixed(1)} µs per point`,
    );

    // The import door alone: nothing reads the stream, so nothing holds the import back.
    const rows = await makeCsv(join(dir, 'door.csv'), importMb * 1024 * 1024, 'door');
    const importStarted = performance.now();
    const response = await fetch(`${api.url}/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' },
      body: Bun.file(join(dir, 'door.csv')),
    });
    const { id } = (await response.json()) as { id: string };
    await waitFor(
      async () => ((await (await fetch(`${api.url}/imports/${id}`)).json()) as { state: string }).state === 'done',
      { what: 'the import', timeoutMs: 3_600_000, intervalMs: 200 },
    );
    const importSeconds = (performance.now() - importStarted) / 1_000;
    const afterImport = await processUsage(api.pid);
    results.push(
      `Import door alone, a ${importMb} MB CSV (${int(rows)} rows) into the stream: ${int(rows / importSeconds)} rows/s; API peak RSS ${afterImport.peakRssMb.toFixed(0)} MB`,
    );
  } finally {
    await api.stop();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// 0b. The MQTT door alone: Mosquitto, Redis and ingest-mqtt, nothing reading the stream.
{
  const broker = await startMosquitto();
  const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
  const redis = createRedis(redisServer.url, { name: 'bench' });
  const worker = startService(
    join(root, 'ingest-mqtt/src/index.ts'),
    { REDIS_URL: redisServer.url, MQTT_URL: broker.url, MQTT_CLIENT_ID: 'bench-door' },
    profileFlags,
  );
  try {
    await waitFor(() => worker.output().includes('"subscribed"'), {
      what: 'ingest-mqtt subscribed',
      timeoutMs: 30_000,
    });
    const count = Math.max(1_000, Math.floor(total / 4));
    const started = performance.now();
    await publishMqtt(broker.url, 'bench-door-publisher', count, 1);
    // Readings, not entries: ingest-mqtt writes frames of many readings an entry.
    let seen = 0;
    let after = '-';
    await waitFor(
      async () => {
        for (const [entryId, fields] of await redis.xrange('readings', after, '+', 'COUNT', 1_000)) {
          seen += decodeReadingItems(fields).length;
          after = `(${entryId}`;
        }
        return seen >= count;
      },
      { what: 'every reading in the stream', timeoutMs: 600_000, intervalMs: 20 },
    );
    const seconds = (performance.now() - started) / 1_000;
    const usage = await processUsage(worker.pid);
    results.push(
      `MQTT door alone (Mosquitto, Redis, ingest-mqtt), ${int(count)} readings, 1 a message, QoS 1: ${int(count / seconds)}/s into the stream; ingest-mqtt CPU ${((usage.cpuSeconds * 1e6) / count).toFixed(1)} µs a reading`,
    );
  } finally {
    await worker.kill('SIGTERM');
    redis.disconnect();
    await redisServer.stop();
    await broker.stop();
  }
}

// 1. HTTP: POST /ingest, 1,000 readings a request, 4 clients, with the whole pipeline behind.
{
  const stack = await startStack();
  try {
    const requests = Math.ceil(total / 1_000);
    let next = 0;
    const started = performance.now();
    const client = async () => {
      while (next < requests) {
        const index = next++;
        const body = JSON.stringify(Array.from({ length: 1_000 }, (_, j) => reading(index * 1_000 + j)));
        const response = await fetch(`${stack.api.url}/ingest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        });
        if (response.status !== 202)
          throw new Error(`POST /ingest answered ${response.status}: ${await response.text()}`);
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    const accepted = performance.now();
    const stored = await untilStored(stack, requests * 1_000);
    const { leads } = await stack.stored();
    results.push(
      `HTTP ingest, ${int(requests * 1_000)} readings in 1,000-reading requests from 4 clients: ` +
        `accepted ${int((requests * 1_000) / ((accepted - started) / 1_000))}/s (202 once in the stream), stored ${int((requests * 1_000) / ((stored - started) / 1_000))}/s end to end; ` +
        `lead time sent → stored ${formatLatency(summarize(leads))}`,
    );
  } finally {
    await stack.stop();
  }
}

// 1b. Line protocol: POST /api/v2/write, 5,000 points a body, 4 clients, with the whole pipeline behind.
{
  const stack = await startStack();
  try {
    const requests = Math.ceil(total / 5_000);
    let next = 0;
    const started = performance.now();
    await sendFromClients(
      `${stack.api.url}/api/v2/write?org=o&bucket=b&precision=ns`,
      () => (next < requests ? lineProtocolBody(5_000 * next++, 5_000) : undefined),
      { authorization: `Token ${TOKEN}`, 'content-type': 'text/plain; charset=utf-8' },
      204,
    );
    const accepted = performance.now();
    const stored = await untilStored(stack, requests * 5_000);
    results.push(
      `Line protocol, ${int(requests * 5_000)} points in 5,000-line bodies from 4 clients: ` +
        `accepted ${int((requests * 5_000) / ((accepted - started) / 1_000))}/s (204 once in the stream), stored ${int((requests * 5_000) / ((stored - started) / 1_000))}/s end to end`,
    );
  } finally {
    await stack.stop();
  }
}

// 2. MQTT: QoS 1 through Mosquitto and ingest-mqtt.
for (const perMessage of [1, 100]) {
  const count = perMessage === 1 ? Math.max(1_000, Math.floor(total / 4)) : total;
  const broker = await startMosquitto();
  const stack = await startStack();
  const worker = startService(
    join(root, 'ingest-mqtt/src/index.ts'),
    { REDIS_URL: stack.redisUrl, MQTT_URL: broker.url, MQTT_CLIENT_ID: `bench-${perMessage}` },
    profileFlags,
  );
  try {
    // Messages published before its subscription exists would not be kept for it.
    await waitFor(() => worker.output().includes('"subscribed"'), {
      what: 'ingest-mqtt subscribed',
      timeoutMs: 30_000,
    });
    const started = performance.now();
    await publishMqtt(broker.url, `bench-publisher-${perMessage}`, count, perMessage);
    const published = performance.now();
    const stored = await untilStored(stack, count);
    const { leads } = await stack.stored();
    results.push(
      `MQTT QoS 1, ${int(count)} readings, ${perMessage} per message: broker took ${int(count / ((published - started) / 1_000))}/s, ` +
        `stored ${int(count / ((stored - started) / 1_000))}/s end to end; lead time published → stored ${formatLatency(summarize(leads))}`,
    );
  } finally {
    await worker.kill('SIGTERM');
    await stack.stop();
    await broker.stop();
  }
}

// 3. Imports: a big CSV through POST /imports, and a 1 MB one sent while it runs.
{
  const dir = await mkdtemp(join(tmpdir(), 'bench-import-'));
  const stack = await startStack({ IMPORT_DIR: join(dir, 'uploads') });
  try {
    const bigRows = await makeCsv(join(dir, 'big.csv'), importMb * 1024 * 1024, 'big');
    const smallRows = await makeCsv(join(dir, 'small.csv'), 1024 * 1024, 'small');
    const post = async (file: string) => {
      const response = await fetch(`${stack.api.url}/imports`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' },
        body: Bun.file(file),
      });
      if (response.status !== 202)
        throw new Error(`POST /imports answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    };
    const job = async (id: string) =>
      (await (await fetch(`${stack.api.url}/imports/${id}`)).json()) as {
        state: string;
        rowsRead: number;
        queuedMs: number;
        processingMs: number;
      };
    const started = performance.now();
    const big = await post(join(dir, 'big.csv'));
    const uploaded = performance.now();
    await waitFor(async () => (await job(big)).rowsRead > 100_000, {
      what: 'the big import running',
      timeoutMs: 120_000,
    });
    const smallSent = performance.now();
    const small = await post(join(dir, 'small.csv'));
    await waitFor(async () => (await job(small)).state === 'done', {
      what: 'the small import',
      timeoutMs: 600_000,
      intervalMs: 50,
    });
    const smallDone = performance.now();
    await waitFor(async () => (await job(big)).state === 'done', {
      what: 'the big import',
      timeoutMs: 3_600_000,
      intervalMs: 500,
    });
    const stored = await untilStored(stack, bigRows + smallRows);
    const usage = await stack.usage();
    results.push(
      `Import of a ${importMb} MB CSV (${int(bigRows)} rows): upload ${((uploaded - started) / 1_000).toFixed(1)} s, stored ${int(bigRows / ((stored - started) / 1_000))} rows/s end to end; ` +
        `API peak RSS ${usage.api?.peakRssMb.toFixed(0)} MB; a 1 MB import (${int(smallRows)} rows) sent while it ran was done ${((smallDone - smallSent) / 1_000).toFixed(1)} s later`,
    );
  } finally {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`\n${results.join('\n')}`);
process.exit(0);
