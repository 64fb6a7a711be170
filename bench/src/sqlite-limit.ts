/**
 * `bun run --cwd bench sqlite-limit`: the ceiling under the pipeline — the API's own SQLite store
 * (its schema, statements and tuning, on this thread) inserting N readings from 1,000 devices in
 * batches of 5,000, as consumer-store's batches arrive. Rows/s and CPU µs per row. Flags:
 * --readings N (500,000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StoredRow } from 'api/src/storage/port.ts';
import { openSqliteStore } from 'api/src/storage/sqlite/store.ts';
import { fleetRows } from './support.ts';

const { values } = parseArgs({ options: { readings: { type: 'string', default: '500000' } } });
const total = Number(values.readings);
if (!Number.isInteger(total) || total < 1) {
  console.error(`sqlite-limit: --readings must be a positive integer, got ${JSON.stringify(values.readings)}`);
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'sqlite-limit-'));
const store = openSqliteStore(join(dir, 'limit.db'));
try {
  const batches: StoredRow[][] = [];
  const now = Date.now();
  for (let start = 0; start < total; start += 5_000)
    batches.push(fleetRows(start, Math.min(5_000, total - start), (n) => now + n, now));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const batch of batches) await store.insert(batch);
  const seconds = (performance.now() - started) / 1_000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(
    `| SQLite alone (the API's store, batches of 5,000, ${total.toLocaleString()} rows) | ${Math.round(total / seconds).toLocaleString()} rows/s | ${((cpu.user + cpu.system) / total).toFixed(1)} µs CPU per row |`,
  );
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
