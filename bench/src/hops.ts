/**
 * `bun run --cwd bench hops`: each consumer alone on a stream pre-filled with frames of 1,000
 * readings (what the producer writes; 1,000 devices, ~2% over the default threshold) — the CPU
 * each spends a reading, and Redis's beside it, in seconds instead of a whole pipeline run:
 * - consumer-store, into a stub API on this process that answers every batch stored (the API's
 *   own cost is `api-rows`'s and `sqlite-limit`'s);
 * - consumer-alert's evaluation (and its notifier printing the alerts to a pipe).
 * For profiling: `BENCH_CPU_PROF_DIR=/tmp/prof` profiles the consumer. Flags: --readings N
 * (400,000), --rounds R (2).
 */
import { join } from 'node:path';
import { cliNumber, createRedis, encodeReadingFrame, groupsCaughtUp, newEventId, parseCli } from 'core';
import { freePort, startRedisServer, startService } from 'core/testing';
import type Redis from 'ioredis';
import { processUsage, profileFlags } from './support.ts';

const { values } = parseCli({
  name: 'hops',
  usage: 'Usage: bun run --cwd bench hops [--readings N] [--rounds R]',
  options: { readings: { type: 'string', default: '400000' }, rounds: { type: 'string', default: '2' } },
});
const total = cliNumber('hops', 'readings', values.readings, { min: 1_000, integer: true });
const rounds = cliNumber('hops', 'rounds', values.rounds, { min: 1, integer: true });
const root = join(import.meta.dir, '../..');
const FRAME = 1_000;

/** `total` readings in frames on `stream`, each device once a frame, ~2% of them over 50. */
async function prefillFrames(redis: Redis, stream: string): Promise<void> {
  const ts = Date.now() - 60_000;
  for (let start = 0; start < total; start += 100 * FRAME) {
    const pipeline = redis.pipeline();
    for (let frame = start; frame < Math.min(total, start + 100 * FRAME); frame += FRAME) {
      const readings = Array.from({ length: Math.min(FRAME, total - frame) }, (_, i) => ({
        id: newEventId(),
        deviceId: `device-${String(i).padStart(4, '0')}`,
        metric: 'kwh',
        value: Math.random() < 0.02 ? 75 : Math.round(Math.random() * 4_000) / 100,
        unit: 'kWh',
        ts: ts + frame / FRAME,
      }));
      pipeline.xadd(stream, '*', ...encodeReadingFrame(readings));
    }
    await pipeline.exec();
  }
}

/** Runs `entry` on a fresh Redis holding the frames until `done`; its and Redis's CPU µs a reading. */
async function hop(
  entry: string,
  env: Record<string, string>,
  done: (redis: Redis) => Promise<boolean>,
): Promise<{ seconds: number; consumer: number; redis: number }> {
  const server = await startRedisServer({ cluster: false });
  const redis = createRedis(server.url, { name: 'bench-hops' });
  try {
    await prefillFrames(redis, 'readings');
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    const redisBefore = (await processUsage(redisPid)).cpuSeconds;
    const started = performance.now();
    const consumer = startService(
      entry,
      { REDIS_URL: server.url, LOG_LEVEL: 'warn', HEARTBEAT_FILE: '', ...env },
      profileFlags,
    );
    while (!(await done(redis))) await Bun.sleep(50);
    const seconds = (performance.now() - started) / 1_000;
    const consumerCpu = (await processUsage(consumer.pid)).cpuSeconds;
    const redisCpu = (await processUsage(redisPid)).cpuSeconds - redisBefore;
    await consumer.kill('SIGTERM');
    const perReading = (cpu: number) => (cpu / total) * 1e6;
    return { seconds, consumer: perReading(consumerCpu), redis: perReading(redisCpu) };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** A stub of the API's two batch routes, answering every item stored; counts the readings. */
function stubApi(port: number) {
  let stored = 0;
  const server = Bun.serve({
    port,
    hostname: '127.0.0.1',
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === '/readings/rows') {
        const { rows } = (await request.json()) as { rows: unknown[] };
        stored += rows.length;
        return Response.json({ inserted: rows.length, duplicates: 0 });
      }
      if (path === '/alerts/batch') {
        const { alerts } = (await request.json()) as { alerts: unknown[] };
        return Response.json({ inserted: alerts.length, duplicates: 0 });
      }
      return Response.json({ status: 'ok' });
    },
  });
  return { stored: () => stored, stop: () => server.stop(true) };
}

const rows: string[] = [];
for (let round = 1; round <= rounds; round++) {
  const port = await freePort();
  const api = stubApi(port);
  const store = await hop(
    join(root, 'consumer-store/src/index.ts'),
    { API_URL: `http://127.0.0.1:${port}`, API_TOKEN: 'bench' },
    async () => api.stored() >= total,
  );
  await api.stop();
  const alert = await hop(join(root, 'consumer-alert/src/index.ts'), {}, (redis) =>
    groupsCaughtUp(redis, 'readings', ['alerts']),
  );
  for (const [name, run] of [
    ['consumer-store → stub API', store],
    ['consumer-alert, evaluating', alert],
  ] as const)
    rows.push(
      `| ${round} | ${name} | ${Math.round(total / run.seconds).toLocaleString()} | ${run.consumer.toFixed(2)} µs | ${run.redis.toFixed(2)} µs |`,
    );
}
console.log(
  `\n${total.toLocaleString()} readings in frames of ${FRAME.toLocaleString()} (process start included in readings/s)\n`,
);
console.log('| round | hop | readings/s | consumer CPU a reading | Redis CPU a reading |\n|---|---|---|---|---|');
for (const row of rows) console.log(row);
