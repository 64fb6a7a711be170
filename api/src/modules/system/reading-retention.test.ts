import { expect, it } from 'bun:test';
import { createLogger } from 'core';
import { waitFor } from 'core/testing';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, readingBody, testStore } from '../../test-helpers.ts';
import { startReadingRetention } from './reading-retention.ts';

const DAY = 86_400_000;
const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

it('RETAIN_RAW_DAYS: removes the readings measured before the bound, and /health and /metrics say how far back readings go and what retention did', async () => {
  const store = testStore();
  const now = Date.now();
  // 12,000 readings 31–60 days old (more than two steps), 300 within the bound.
  const old = Array.from({ length: 12_000 }, (_, i) =>
    readingBody({ deviceId: `device-${i % 50}`, ts: new Date(now - 31 * DAY - (i % 29) * DAY - i).toISOString() }),
  );
  const recent = Array.from({ length: 300 }, (_, i) =>
    readingBody({ deviceId: `device-${i % 50}`, ts: new Date(now - (i % 29) * DAY - i).toISOString() }),
  );
  for (let i = 0; i < old.length; i += 5_000)
    await store.insert(old.slice(i, i + 5_000).map((r) => ({ ...r, ts: Date.parse(r.ts), storedAt: now })));
  await store.insert(recent.map((r) => ({ ...r, ts: Date.parse(r.ts), storedAt: now })));
  const retention = startReadingRetention({ store, retainDays: 30, logger: quiet });
  try {
    const app = createApp({
      store,
      config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: quiet,
      retention: retention.status,
    });
    await waitFor(() => retention.status().runs === 1, { what: 'one retention pass' });
    expect(retention.status()).toMatchObject({
      retainRawDays: 30,
      retainRollupDays: null,
      runs: 1,
      removed: 12_000,
      rollupsRemoved: 0,
    });
    expect(await store.count({})).toBe(300);
    // Never a rollup: /stats still counts every reading; what needs raw values says it is gone.
    const stats = await store.stats({}, 50, { limit: 100 });
    expect(stats.count).toBe(12_300);
    expect(stats.perDeviceTotal).toBe(50);
    expect(stats.perDevice.reduce((sum, device) => sum + device.count, 0)).toBe(12_300);
    expect(stats.overThresholdExact).toBe(false);
    expect(stats.mostFrequent.skipped).toContain('RETAIN_RAW_DAYS');
    const recentStats = await store.stats({ fromMs: Math.min(...recent.map((r) => Date.parse(r.ts))) }, 50, {
      limit: 100,
    });
    expect(recentStats.overThresholdExact).toBe(true);
    expect(recentStats.count).toBe(300);
    const health = await (await app.handle(new Request('http://localhost/health'))).json();
    const oldestRecent = Math.min(...recent.map((r) => Date.parse(r.ts)));
    expect(health.checks.database).toMatchObject({
      oldestReading: new Date(oldestRecent).toISOString(),
      retention: { retainRawDays: 30, runs: 1, removed: 12_000, lastRun: { removed: 12_000 } },
    });
    const metrics = await (await app.handle(new Request('http://localhost/metrics'))).text();
    expect(metrics).toContain('api_retention_removed_total 12000');
    expect(metrics).toContain('api_retention_runs_total 1');
    expect(metrics).toContain(`api_storage_oldest_reading_timestamp_seconds ${oldestRecent / 1_000}`);
  } finally {
    await retention.stop();
  }
});

it('without RETAIN_RAW_DAYS keeps every reading', async () => {
  const store = testStore();
  await store.insert([{ ...readingBody(), ts: Date.UTC(2001, 0, 1), storedAt: Date.now() }]);
  const retention = startReadingRetention({ store, retainDays: undefined, logger: quiet });
  await retention.stop();
  expect(await store.count({})).toBe(1);
  expect(retention.status()).toMatchObject({ retainRawDays: null, runs: 0 });
});
