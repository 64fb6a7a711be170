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
import type { StoredRow } from 'api/src/storage/port.ts';
import { openSqliteStore } from 'api/src/storage/sqlite/store.ts';
import { cliNumber, parseCli } from 'core';
import { fleetRows } from './support.ts';

const { values } = parseCli({
  name: 'sqlite-limit',
  usage: 'Usage: bun run --cwd bench sqlite-limit [--readings N] [--batch B]',
  options: { readings: { type: 'string', default: '500000' }, batch: { type: 'string', default: '5000' } },
});
const total = cliNumber('sqlite-limit', 'readings', values.readings, { min: 1, integer: true });
const size = cliNumber('sqlite-limit', 'batch', values.batch, { min: 1, integer: true });
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
