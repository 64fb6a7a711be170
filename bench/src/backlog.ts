/**
 * `bun run --cwd bench backlog`: catching up after an outage. N readings (1,000 devices, ~2% over
 * the threshold) already in the stream — written as frames of 500, then as single-reading entries
 * — when consumer-store and consumer-alert start; from their process start until the last reading
 * is stored and evaluated (every row checked). Flags: --readings N (500,000).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { groupsCaughtUp } from 'core';
import { startService } from 'core/testing';
import { backlogStack } from './backlog-stack.ts';
import { openStore } from './storage.ts';

const { values } = parseArgs({ options: { readings: { type: 'string', default: '500000' } } });
const total = Number(values.readings);
if (!Number.isInteger(total) || total < 1) {
  console.error(`backlog: --readings must be a positive integer, got ${JSON.stringify(values.readings)}`);
  process.exit(2);
}
const root = join(import.meta.dir, '../..');

async function catchUp(frameReadings: number): Promise<string> {
  const stack = await backlogStack({
    name: 'backlog',
    total,
    frameReadings,
    valueOf: (index) => (index % 50 === 0 ? 75 : 20),
  });
  const { redis, databaseUrl, env } = stack;
  const services = [];
  try {
    const entries = await redis.xlen('readings');
    const started = performance.now();
    services.push(
      startService(join(root, 'consumer-store/src/index.ts'), env),
      startService(join(root, 'consumer-alert/src/index.ts'), env),
    );
    const store = await openStore(databaseUrl);
    try {
      for (;;) {
        await Bun.sleep(50);
        // The groups first (cheap); the row count (a scan) only once they are through.
        if (
          (await groupsCaughtUp(redis, 'readings', ['store', 'alerts']).catch(() => false)) &&
          (await store.count({}).catch(() => 0)) >= total
        )
          break;
      }
    } finally {
      await store.close();
    }
    const seconds = (performance.now() - started) / 1_000;
    return `| ${total.toLocaleString()} readings waiting as ${entries.toLocaleString()} ${frameReadings > 1 ? `frames (≤ ${frameReadings})` : 'single-reading entries'} | ${Math.round(total / seconds).toLocaleString()} readings/s (${seconds.toFixed(1)} s from the consumers' process start to the last stored and evaluated) |`;
  } finally {
    await stack.stop(services);
  }
}

console.log('| backlog | caught up |\n|---|---|');
for (const frameReadings of [500, 1, 500, 1]) console.log(await catchUp(frameReadings));
