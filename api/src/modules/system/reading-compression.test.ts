import { expect, it } from 'bun:test';
import { createLogger } from 'core';
import { waitFor } from 'core/testing';
import { createApp } from '../../app.ts';
import type { Stats, StoredRow } from '../../storage/port.ts';
import { TEST_TOKEN, testStore } from '../../test-helpers.ts';
import { startReadingCompression } from './reading-compression.ts';

const DAY = 86_400_000;
const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

it('COMPRESS_AFTER_HOURS (24 unless set): moves whole days older than the bound into chunks, every reading still found, listed and counted; /health and /metrics say what it did', async () => {
  const store = testStore();
  const now = Date.now();
  const today = Math.floor(now / DAY) * DAY;
  // 6,000 readings of the 30 days before yesterday, 200 of today.
  const reading = (ts: number, i: number): StoredRow => ({
    id: Bun.randomUUIDv7('hex', ts + 1_000),
    deviceId: `device-${i % 20}`,
    metric: i % 3 === 0 ? 'temp' : 'kwh',
    value: (i % 700) / 10,
    unit: i % 3 === 0 ? '°C' : 'kWh',
    ts,
    storedAt: ts + 1_000,
  });
  const old = Array.from({ length: 6_000 }, (_, i) => reading(today - 2 * DAY - (i % 30) * DAY + i * 997, i));
  const recent = Array.from({ length: 200 }, (_, i) => reading(today + (i % 60) * 1_000, i));
  await store.insert(old);
  await store.insert(recent);
  const before = {
    page: await store.page({}, 7_000),
    stats: await store.stats({ fromMs: today - 20 * DAY - 123_457 }, 30, { limit: 100 }),
  };

  // Unset: the default, 24 hours.
  const compression = startReadingCompression({ store, compressAfterHours: undefined, logger: quiet });
  try {
    const app = createApp({
      store,
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: quiet,
      compression: compression.status,
    });
    await waitFor(() => compression.status().runs === 1, { what: 'one compression pass' });
    // Every reading of the days before yesterday, but the newest row by sequence (see chunk-writes.ts).
    const { moved } = compression.status();
    expect(moved).toBeGreaterThanOrEqual(old.length - 1);
    expect(compression.status()).toMatchObject({ compressAfterHours: 24, runs: 1, lastRun: { moved } });

    expect(await store.page({}, 7_000)).toEqual(before.page);
    expect(await store.count({})).toBe(6_200);
    // Means aside: a window's partial minutes are summed in another order (rounding).
    const withoutMeans = (stats: Stats) => ({
      ...stats,
      mean: 0,
      series: { ...stats.series, points: stats.series.points.map((point) => ({ ...point, mean: 0 })) },
      perDevice: stats.perDevice.map((device) => ({ ...device, mean: 0 })),
    });
    const after = await store.stats({ fromMs: today - 20 * DAY - 123_457 }, 30, { limit: 100 });
    expect(withoutMeans(after)).toEqual(withoutMeans(before.stats));
    expect(after.mean).toBeCloseTo(before.stats.mean as number, 9);
    for (const row of [old[0], old[1_234], old[5_999]] as StoredRow[]) expect(await store.get(row.id)).toEqual(row);
    expect(await store.insert([old[42] as StoredRow])).toEqual({ inserted: 0, duplicates: 1, conflicts: [] });

    const health = await (await app.handle(new Request('http://localhost/health'))).json();
    expect(health.checks.database.compression).toMatchObject({ compressAfterHours: 24, runs: 1, moved });
    // What each tier holds: every reading in one of them, the old ones not moved still waiting.
    const { tiers } = health.checks.database.compression;
    expect(tiers).toMatchObject({
      rowReadings: 6_200 - moved,
      compressedReadings: moved,
      waitingRows: old.length - moved,
    });
    const seriesDays = new Set(old.map((row) => `${row.deviceId} ${row.metric} ${Math.floor(row.ts / DAY)}`));
    expect(tiers.chunks).toBe(seriesDays.size);
    // Two bytes of filter and a few of body a reading at least, and less than a row takes.
    expect(tiers.chunkBytes).toBeGreaterThan(moved * 4);
    expect(tiers.chunkBytes).toBeLessThan(moved * 60);
    const metrics = await (await app.handle(new Request('http://localhost/metrics'))).text();
    expect(metrics).toContain(`api_compression_moved_total ${moved}`);
    expect(metrics).toContain(`api_readings_compressed ${moved}`);
    expect(metrics).toContain(`api_readings_rows ${6_200 - moved}`);
    expect(metrics).toContain(`api_compressed_chunks ${tiers.chunks}`);
  } finally {
    await compression.stop();
  }
});

it('COMPRESS_AFTER_HOURS=0 keeps every reading a row', async () => {
  const store = testStore();
  const compression = startReadingCompression({ store, compressAfterHours: 0, logger: quiet });
  try {
    expect(compression.status()).toMatchObject({ compressAfterHours: null, runs: 0, lastRun: null });
  } finally {
    await compression.stop();
    await store.close();
  }
});
