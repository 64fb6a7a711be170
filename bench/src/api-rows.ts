/**
 * `bun run --cwd bench api-rows`: the API alone on the store hop — its own process on a fresh
 * SQLite file, `POST /readings/rows` bodies of 5,000 rows (what consumer-store sends) from
 * --concurrency clients at once. Rows/s and the API process's CPU µs per row. Flags: --readings N
 * (400,000), --concurrency C (4).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliNumber, parseCli } from 'core';
import { freePort, startRedisServer } from 'core/testing';
import { fleetRows, processUsage, sendFromClients, spawnApi } from './support.ts';

const { values } = parseCli({
  name: 'api-rows',
  usage: 'Usage: bun run --cwd bench api-rows [--readings N] [--concurrency C]',
  options: { readings: { type: 'string', default: '400000' }, concurrency: { type: 'string', default: '4' } },
});
const total = cliNumber('api-rows', 'readings', values.readings, { min: 1, integer: true });
const concurrency = cliNumber('api-rows', 'concurrency', values.concurrency, { min: 1, integer: true });
const SIZE = 5_000;

const dir = await mkdtemp(join(tmpdir(), 'bench-api-rows-'));
const redis = await startRedisServer({ cluster: false });
const api = await spawnApi({
  port: await freePort(),
  databaseUrl: join(dir, 'rows.db'),
  token: 'bench',
  env: { REDIS_URL: redis.url },
});
try {
  const now = Date.now();
  const bodies: string[] = [];
  for (let start = 0; start < total; start += SIZE) {
    const rows = fleetRows(start, Math.min(SIZE, total - start), (n) => now - 3_600_000 + n, now);
    bodies.push(JSON.stringify({ rows: rows.map((r) => [r.id, r.deviceId, r.metric, r.value, r.unit, r.ts]) }));
  }
  const before = await processUsage(api.pid);
  const started = performance.now();
  let next = 0;
  await sendFromClients(
    `${api.url}/readings/rows`,
    () => bodies[next++],
    { authorization: 'Bearer bench', 'content-type': 'application/json' },
    200,
    concurrency,
  );
  const seconds = (performance.now() - started) / 1_000;
  const cpu = (await processUsage(api.pid)).cpuSeconds - before.cpuSeconds;
  console.log(
    `| the API alone (${total.toLocaleString()} rows, bodies of ${SIZE.toLocaleString()}, ${concurrency} at once) | ${Math.round(total / seconds).toLocaleString()} rows/s | ${((cpu * 1e6) / total).toFixed(1)} µs CPU per row |`,
  );
} finally {
  await api.stop();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
