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
import { newEventId } from 'core';
import type { StoredRow } from 'api/src/storage/port.ts';
import { openSqliteStore } from 'api/src/storage/sqlite/store.ts';

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
  for (let start = 0; start < total; start += 5_000) {
    batches.push(
      Array.from({ length: Math.min(5_000, total - start) }, (_, i) => ({
        id: newEventId(),
        deviceId: `device-${(start + i) % 1_000}`,
        metric: 'kwh',
        value: (start + i) % 52,
        unit: 'kWh',
        ts: now + start + i,
        storedAt: now,
      })),
    );
  }
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const batch of batches) await store.insert(batch);
  const seconds = (performance.now() - started) / 1_000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`| SQLite alone (the API's store, batches of 5,000, ${total.toLocaleString()} rows) | ${Math.round(total / seconds).toLocaleString()} rows/s | ${(((cpu.user + cpu.system) / total)).toFixed(1)} µs CPU per row |`);
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
