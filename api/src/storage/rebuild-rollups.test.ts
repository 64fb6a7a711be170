import { afterAll, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openThreadedSqliteStore } from './sqlite/threaded-store.ts';

const directory = await mkdtemp(join(tmpdir(), 'rebuild-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

it('rollups:rebuild makes the rollups again from the raw readings, and /stats answers as before', async () => {
  const path = join(directory, 'telemetry.db');
  const base = Date.UTC(2026, 10, 20, 8);
  let store = await openThreadedSqliteStore(path);
  const rows = Array.from({ length: 5_000 }, (_, i) => ({
    id: `r-${i}`,
    deviceId: `device-${i % 7}`,
    metric: i % 3 ? 'kwh' : 'temp',
    value: (i * 37) % 101,
    unit: 'u',
    ts: base + i * 61_001,
    storedAt: base,
  }));
  await store.insert(rows);
  await store.compactRollups(base + 10 * 86_400_000, 1_000);
  const filter = { fromMs: base + 1_234, toMs: base + 3 * 86_400_000 };
  const before = await store.stats(filter, 50, { limit: 10 });
  await store.close();

  // Rollups lost (a backup restored without them, say), and a wrong one left behind.
  const sqlite = new Database(path);
  sqlite.run('PRAGMA busy_timeout = 10000');
  sqlite.run('DELETE FROM rollups_device');
  sqlite.run("UPDATE rollups_metric SET count = count + 1000 WHERE metric = 'kwh'");
  sqlite.close();
  const command = Bun.spawn(['bun', join(import.meta.dir, '../rebuild-rollups.ts')], {
    env: { ...process.env, DATABASE_URL: path, LOG_LEVEL: 'info' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  expect(await command.exited).toBe(0);
  expect(await new Response(command.stdout).text()).toContain('rollups_rebuilt');

  store = await openThreadedSqliteStore(path);
  try {
    const after = await store.stats(filter, 50, { limit: 10 });
    expect(after).toEqual(before);
    expect(after.perDevice.reduce((sum, device) => sum + device.count, 0)).toBe(after.count);
  } finally {
    await store.close();
  }
}, 60_000);
