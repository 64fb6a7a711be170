/**
 * Devices-in benchmark: the whole pipeline (own Redis with AOF everysec, API on SQLite,
 * consumer-store, consumer-alert) fed (1) over HTTP, POST /ingest with 1,000-reading requests
 * from 4 clients, and (2) over MQTT through a Mosquitto of its own and ingest-mqtt, QoS 1, with
 * one reading per message and with 100 per message. Reports the rate into the stream (accepted),
 * the rate to storage, and the lead time from the moment a reading was sent to its row's commit.
 * Flags: --readings N (default 200,000 over HTTP; MQTT single readings use N / 4).
 */
import { join } from 'node:path';
import { cliNumber, parseCli } from 'core';
import { startMosquitto, startService, waitFor } from 'core/testing';
import mqtt from 'mqtt';
import { formatLatency, int, summarize } from './pipeline/report.ts';
import { TOKEN, root, startStack } from './pipeline/stack.ts';
import { profileFlags } from './support.ts';

const { values } = parseCli({
  name: 'bench:ingest',
  usage: `Usage: bun run bench:ingest [--readings N]
  HTTP ingest (1,000-reading requests, 4 clients) and MQTT ingest (QoS 1; 1 and 100 readings per
  message) through the whole pipeline: accepted/s, stored/s, lead time sent → stored.`,
  options: { readings: { type: 'string' } },
});
const total = values.readings === undefined ? 200_000 : cliNumber('bench:ingest', 'readings', values.readings, { min: 1_000, integer: true });

type Reading = { deviceId: string; metric: string; value: number; unit: string; ts: number };
const reading = (i: number): Reading => ({ deviceId: `device-${String(i % 1_000).padStart(4, '0')}`, metric: 'kwh', value: i % 97, unit: 'kWh', ts: Date.now() });

/** Waits until `count` rows are stored; resolves with the time the last one was seen. */
async function untilStored(stack: Awaited<ReturnType<typeof startStack>>, count: number): Promise<number> {
  for (;;) {
    if ((await stack.store.count({})) >= count) return performance.now();
    await Bun.sleep(20);
  }
}

const results: string[] = [];

// 1. HTTP: POST /ingest, 1,000 readings a request, 4 clients.
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
        const response = await fetch(`${stack.api.url}/ingest`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
        if (response.status !== 202) throw new Error(`POST /ingest answered ${response.status}: ${await response.text()}`);
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

// 2. MQTT: QoS 1 through Mosquitto and ingest-mqtt.
for (const perMessage of [1, 100]) {
  const count = perMessage === 1 ? Math.max(1_000, Math.floor(total / 4)) : total;
  const broker = await startMosquitto();
  const stack = await startStack();
  const worker = startService(join(root, 'ingest-mqtt/src/index.ts'), { REDIS_URL: stack.redisUrl, MQTT_URL: broker.url, MQTT_CLIENT_ID: `bench-${perMessage}` }, profileFlags);
  try {
    // Messages published before its subscription exists would not be kept for it.
    await waitFor(() => worker.output().includes('"subscribed"'), { what: 'ingest-mqtt subscribed', timeoutMs: 30_000 });
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `bench-publisher-${perMessage}` });
    const started = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i += perMessage) {
      // One device's readings per message: the topic names it.
      const batch = Array.from({ length: perMessage }, (_, j) => {
        const { deviceId, ...rest } = reading(i + j);
        return rest;
      });
      const device = reading(i).deviceId;
      const sent = publisher.publishAsync(`telemetry/${device}`, JSON.stringify(perMessage === 1 ? batch[0] : batch), { qos: 1 });
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      if (inFlight.size >= 200) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const published = performance.now();
    const stored = await untilStored(stack, count);
    const { leads } = await stack.stored();
    await publisher.endAsync();
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

console.log(`\n${results.join('\n')}`);
process.exit(0);
