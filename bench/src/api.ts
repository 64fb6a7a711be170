/**
 * API benchmark: batch store time, sustained batch throughput into a table already holding 1M
 * rows, and GET /readings/latest req/s. Starts its own API process on a free port with a fresh
 * SQLite file. Flags: --rows N (prefill, default 1,000,000), --seconds S (latest load, default 5).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from 'core/testing';
import { percentile, spawnApi } from './support.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '5' } } });
const prefillRows = Number(values.rows);
const loadSeconds = Number(values.seconds);

const dir = await mkdtemp(join(tmpdir(), 'bench-api-'));
const port = await freePort();
const api = await spawnApi({ port, databaseUrl: join(dir, 'bench.db'), token: 'bench' });
const headers = { authorization: 'Bearer bench', 'content-type': 'application/json' };

let sequence = 0;
const batchOf = (size: number, startMs: number) =>
  JSON.stringify({
    readings: Array.from({ length: size }, (_, i) => {
      sequence += 1;
      return { id: Bun.randomUUIDv7('hex', startMs + sequence), deviceId: `device-${String(i % 1_000).padStart(4, '0')}`, metric: 'kwh', value: sequence % 91, unit: 'kWh', ts: new Date(startMs + sequence).toISOString() };
    }),
  });

async function postBatches(count: number, size: number, concurrency: number): Promise<{ rowsPerSec: number; times: number[] }> {
  const bodies = Array.from({ length: count }, () => batchOf(size, Date.now()));
  const times: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const t0 = performance.now();
        const response = await fetch(`${api.url}/readings/batch`, { method: 'POST', headers, body });
        if (!response.ok) throw new Error(`batch failed: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
        times.push(performance.now() - t0);
      }
    }),
  );
  return { rowsPerSec: (count * size * 1_000) / (performance.now() - started), times };
}

const results: Record<string, string> = {};
try {
  // 1. Fill to the starting size (this is itself a sustained-throughput measurement from empty).
  const fill = await postBatches(prefillRows / 5_000, 5_000, 2);
  results['prefill 0→1M rows, 5,000-row batches, 2 in flight'] = `${Math.round(fill.rowsPerSec).toLocaleString()} rows/s`;

  // 2. Sustained into the full table.
  const sustained5k = await postBatches(100, 5_000, 2);
  results['sustained into 1M+ rows, 5,000-row batches'] = `${Math.round(sustained5k.rowsPerSec).toLocaleString()} rows/s`;
  const sustained1k = await postBatches(300, 1_000, 2);
  results['sustained into 1M+ rows, 1,000-row batches'] = `${Math.round(sustained1k.rowsPerSec).toLocaleString()} rows/s`;

  // 3. One batch of 1,000 from 1,000 distinct devices, one at a time.
  const single = await postBatches(200, 1_000, 1);
  results['batch of 1,000 (1,000 devices) store time'] = `median ${percentile(single.times, 50).toFixed(1)} ms, p99 ${percentile(single.times, 99).toFixed(1)} ms`;

  // 4. latest-100 under 50 concurrent connections, from a separate process.
  const load = Bun.spawn(['bun', join(import.meta.dir, 'http-load.ts'), `${api.url}/readings/latest?limit=100`, '50', String(loadSeconds)], { stdout: 'pipe' });
  const loadResult = JSON.parse(await new Response(load.stdout).text());
  results['GET /readings/latest?limit=100, 50 connections'] = `${Math.round(loadResult.requestsPerSec).toLocaleString()} req/s, p99 ${loadResult.p99Ms.toFixed(1)} ms, errors ${loadResult.errors}`;
  results['API peak RSS'] = `${(await api.peakRssMb()).toFixed(0)} MB`;
} finally {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
}

console.log('| API measurement | result |\n|---|---|');
for (const [name, value] of Object.entries(results)) console.log(`| ${name} | ${value} |`);
