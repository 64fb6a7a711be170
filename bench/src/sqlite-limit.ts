/**
 * `bun run --cwd bench sqlite-limit`: the ceiling under the pipeline — the API's own SQLite store
 * (its schema, statements and tuning, on this thread) inserting N readings from 1,000 devices in
 * batches of 5,000, as consumer-store's batches arrive (--batch: other sizes, e.g. what group
 * commit makes of several). Rows/s and CPU µs per row. Flags: --readings N (500,000), --batch B
 * (5,000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StoredRow } from 'api/src/storage/port.ts';
import { openSqliteStore } from 'api/src/storage/sqlite/store.ts';
import { fleetRows } from './support.ts';

const { values } = parseArgs({
  options: { readings: { type: 'string', default: '500000' }, batch: { type: 'string', default: '5000' } },
});
const positive = (name: 'readings' | 'batch') => {
  const value = Number(values[name]);
  if (Number.isInteger(value) && value >= 1) return value;
  console.error(`sqlite-limit: --${name} must be a positive integer, got ${JSON.stringify(values[name])}`);
  process.exit(2);
};
const total = positive('readings');
const size = positive('batch');
const dir = await mkdtemp(join(tmpdir(), 'sqlite-limit-'));
const store = openSqliteStore(join(dir, 'limit.db'));
try {
  const batches: StoredRow[][] = [];
  const now = Date.now();
  for (let start = 0; start < total; start += size)
    batches.push(fleetRows(start, Math.min(size, total - start), (n) => now + n, now));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const batch of batches) await store.insert(batch);
  const seconds = (performance.now() - started) / 1_000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(
    `| SQLite alone (the API's store, batches of ${size.toLocaleString()}, ${total.toLocaleString()} rows) | ${Math.round(total / seconds).toLocaleString()} rows/s | ${((cpu.user + cpu.system) / total).toFixed(1)} µs CPU per row |`,
  );
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
