/**
 * API: batch store time and sustained batch throughput into a table already holding `rows` rows,
 * and `GET /readings/latest?limit=100` req/s with 50 connections (load from a separate process).
 * Its own API process on a fresh SQLite file, or on a PostgreSQL server of its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startPostgresServer } from 'core/testing';
import { processUsage, spawnApi } from '../support.ts';
import { type Measurement, backendLabel, int, summarize } from './report.ts';
import type { Backend } from './stack.ts';

const headers = { authorization: 'Bearer bench', 'content-type': 'application/json' };

export async function apiScenario(options: {
  rows: number;
  seconds: number;
  connections: number;
  backend?: Backend;
}): Promise<Measurement[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-api-'));
  const postgres = options.backend === 'postgres' ? await startPostgresServer({ fsync: true }) : undefined;
  const databaseUrl = postgres ? await postgres.createDatabase('bench_api') : join(dir, 'bench.db');
  const api = await spawnApi({ port: await freePort(), databaseUrl, token: 'bench' });
  let sequence = 0;
  const batchOf = (size: number, startMs: number) =>
    JSON.stringify({
      readings: Array.from({ length: size }, (_, i) => {
        sequence += 1;
        return {
          id: Bun.randomUUIDv7('hex', startMs + sequence),
          deviceId: `device-${String(i % 1_000).padStart(4, '0')}`,
          metric: 'kwh',
          value: sequence % 91,
          unit: 'kWh',
          ts: new Date(startMs + sequence).toISOString(),
        };
      }),
    });
  const postBatches = async (count: number, size: number, concurrency: number) => {
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
  };

  try {
    const fill = await postBatches(Math.ceil(options.rows / 5_000), 5_000, 2);
    const sustained = await postBatches(100, 5_000, 2);
    const single = await postBatches(200, 1_000, 1);
    const batch = summarize(single.times.map((t) => Math.round(t * 10) / 10));
    const load = Bun.spawn(
      [
        'bun',
        join(import.meta.dir, '../http-load.ts'),
        `${api.url}/readings/latest?limit=100`,
        String(options.connections),
        String(options.seconds),
      ],
      { stdout: 'pipe' },
    );
    const latest = JSON.parse(await new Response(load.stdout).text()) as {
      requestsPerSec: number;
      p99Ms: number;
      errors: number;
      requests: number;
    };
    const withRows = `into ${int(options.rows)}+ rows${backendLabel({ backend: options.backend })}`;
    return [
      {
        scenario: 'api',
        name: `POST /readings/batch, 1,000 readings from 1,000 devices, ${withRows}`,
        result: `median ${batch.p50.toFixed(1)} ms, p99 ${batch.p99.toFixed(1)} ms`,
        target: 'median ≤ 25 ms',
        met: batch.p50 <= 25,
        data: { ...batch },
      },
      {
        scenario: 'api',
        name: `sustained batches ${withRows}, 5,000-row, 2 in flight`,
        result: `${int(sustained.rowsPerSec)} rows/s (filling from empty: ${int(fill.rowsPerSec)})`,
        data: { rowsPerSec: sustained.rowsPerSec, fillRowsPerSec: fill.rowsPerSec },
      },
      {
        scenario: 'api',
        name: `GET /readings/latest?limit=100, ${options.connections} connections, ${options.seconds} s${backendLabel({ backend: options.backend })}`,
        result: `${int(latest.requestsPerSec)} req/s, p99 ${latest.p99Ms.toFixed(1)} ms, ${latest.errors} errors`,
        target: '≥ 10,000 req/s',
        met: latest.requestsPerSec >= 10_000 && latest.errors === 0,
        data: latest,
      },
      {
        scenario: 'api',
        name: `API peak RSS${backendLabel({ backend: options.backend })}`,
        result: `${(await processUsage(api.pid)).peakRssMb.toFixed(0)} MB`,
      },
    ];
  } finally {
    await api.stop();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
