import { describe, expect, it } from 'bun:test';
import { FIXTURE_DEVICES, FIXTURE_TOTALS, STATS_FIXTURE, at } from '../../stats-fixture.ts';
import { createTestApi, readingBody } from '../../test-helpers.ts';

const fixture = STATS_FIXTURE.map((reading) => readingBody({ ...reading }));

async function seeded() {
  const api = createTestApi();
  expect((await api.request('POST', '/readings/batch', { readings: fixture })).status).toBe(200);
  return api;
}

describe('GET /stats', () => {
  it('equals the hand-computed statistics, answered as JSON', async () => {
    const response = await (await seeded()).request('GET', '/stats');
    expect(response.headers.get('content-type')).toBe('application/json');
    const stats = await response.json();
    expect(stats).toEqual({
      ...FIXTURE_TOTALS,
      perDevice: FIXTURE_DEVICES,
      perDeviceTotal: 2,
      perDeviceTruncated: false,
    });
  });

  it('pages the per-device list: bounded however many devices, each device on exactly one page', async () => {
    const api = createTestApi();
    const devices = Array.from({ length: 250 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    const readings = devices.map((deviceId, i) => readingBody({ deviceId, value: i, ts: at('11:00:00') }));
    expect((await api.request('POST', '/readings/batch', { readings })).status).toBe(200);
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const stats = await (
        await api.request('GET', `/stats?deviceLimit=100${after ? `&deviceAfter=${after}` : ''}`)
      ).json();
      expect(stats.perDevice.length).toBeLessThanOrEqual(100);
      expect(stats.perDeviceTotal).toBe(250);
      seen.push(...stats.perDevice.map((d: { deviceId: string }) => d.deviceId));
      if (!stats.perDeviceTruncated) break;
      after = stats.perDevice.at(-1).deviceId;
    }
    expect(seen).toEqual(devices);
    const unbounded = await api.request('GET', '/stats?deviceLimit=100000');
    expect(unbounded.status).toBe(422);
    expect((await unbounded.json()).message).toContain('deviceLimit must be at most 1000');
  });

  it('stays bounded with 100,000 devices over a year: one page of devices, ≤ 2,000 buckets, the totals and the count of devices', async () => {
    const api = createTestApi();
    const start = Date.UTC(2025, 10, 1);
    const rows = Array.from({ length: 100_000 }, (_, i) => ({
      id: `big-${i}`,
      deviceId: `dev-${String(i).padStart(6, '0')}`,
      metric: 'kwh',
      value: i % 100,
      unit: 'kWh',
      ts: start + i * 300_000,
      storedAt: start,
    }));
    for (let i = 0; i < rows.length; i += 10_000) await api.store.insert(rows.slice(i, i + 10_000));
    await api.store.compactRollups(Date.UTC(2027, 0, 1), 100_000);
    const response = await api.request('GET', '/stats?threshold=89');
    const body = await response.text();
    const stats = JSON.parse(body);
    expect(body.length).toBeLessThan(250_000);
    expect([stats.count, stats.min, stats.max, stats.mean]).toEqual([100_000, 0, 99, 49.5]);
    expect([stats.perDevice.length, stats.perDeviceTotal, stats.perDeviceTruncated]).toEqual([100, 100_000, true]);
    expect(stats.perDevice[99]).toEqual({
      deviceId: 'dev-000099',
      count: 1,
      min: 99,
      max: 99,
      mean: 99,
      overThreshold: 1,
    });
    expect(stats.series.points.length).toBeLessThanOrEqual(2_000);
    expect(stats.series.points.reduce((sum: number, point: { count: number }) => sum + point.count, 0)).toBe(100_000);
    expect(stats.readingsPerMinuteTruncated).toBe(true);
    expect(stats.readingsPerMinute).toHaveLength(2_000);
    // 100 values, 1,000 readings each, from the hours' value counts: all tied; one reading more
    // (in an hour not compacted yet, counted from its raw row) breaks the tie.
    expect(stats.mostFrequent).toEqual({
      values: Array.from({ length: 100 }, (_, i) => i),
      count: 1_000,
      truncated: false,
    });
    await api.store.insert([{ ...(rows[0] as (typeof rows)[0]), id: 'one-more' }]);
    const more = await (await api.request('GET', '/stats')).json();
    expect(more.mostFrequent).toEqual({ values: [0], count: 1_001, truncated: false });
    const last = await (await api.request('GET', '/stats?deviceLimit=1000&deviceAfter=dev-099000')).json();
    expect([last.perDevice.length, last.perDevice[998].deviceId, last.perDeviceTruncated]).toEqual([
      999,
      'dev-099999',
      false,
    ]);
  }, 60_000);

  it('says why it skips the most frequent value: too many readings to count, or too many distinct values in an hour to keep', async () => {
    const api = createTestApi();
    const hour = Date.UTC(2026, 10, 20, 10);
    const spread = Array.from({ length: 1_001 }, (_, i) => ({
      id: `spread-${i}`,
      deviceId: 'dev-1',
      metric: 'kwh',
      value: i,
      unit: 'kWh',
      ts: hour + i * 1_000,
      storedAt: hour,
    }));
    await api.store.insert(spread);
    await api.store.compactRollups(Date.UTC(2026, 10, 21), 100);
    const wide = await (await api.request('GET', '/stats')).json();
    expect(wide.mostFrequent).toEqual({
      values: [],
      count: 0,
      truncated: false,
      skipped: expect.stringContaining('more than 1000 distinct values'),
    });
    // A device's window counts its raw readings: 1,001 values once each, the first 100 listed.
    const device = await (await api.request('GET', '/stats?deviceId=dev-1')).json();
    expect(device.mostFrequent).toEqual({
      values: Array.from({ length: 100 }, (_, i) => i),
      count: 1,
      truncated: true,
    });
    // Past 100,000 raw readings in a device's window, not counted.
    const many = Array.from({ length: 100_000 }, (_, i) => ({
      id: `many-${i}`,
      deviceId: 'dev-2',
      metric: 'kwh',
      value: i % 7,
      unit: 'kWh',
      ts: hour + i,
      storedAt: hour,
    }));
    await api.store.insert(many);
    const busy = await (await api.request('GET', '/stats?deviceId=dev-2')).json();
    expect(busy.mostFrequent).toEqual({ values: [0, 1, 2, 3, 4], count: 14_286, truncated: false });
    await api.store.insert([{ ...(many[0] as (typeof many)[0]), id: 'many-more', ts: hour + 100_000 }]);
    const busier = await (await api.request('GET', '/stats?deviceId=dev-2')).json();
    expect(busier.mostFrequent).toEqual({
      values: [],
      count: 0,
      truncated: false,
      skipped: expect.stringContaining('100001 readings'),
    });
  }, 60_000);

  it('covers every minute of an explicit [from, to) window, zeros included, and applies filters', async () => {
    const api = await seeded();
    const stats = await (
      await api.request('GET', `/stats?deviceId=device-b&from=${at('09:59:00')}&to=${at('10:04:00')}&threshold=25`)
    ).json();
    expect(stats.count).toBe(3);
    expect(stats.readingsPerMinute.map((m: { count: number }) => m.count)).toEqual([0, 1, 0, 2, 0]);
    expect(stats.mostFrequent).toEqual({ values: [30], count: 2, truncated: false });
    expect(stats.perDevice).toEqual([
      { deviceId: 'device-b', count: 3, min: 20, max: 30, mean: 80 / 3, overThreshold: 2 },
    ]);
  });

  it('gives a series of at most 2,000 buckets, its bucket chosen by the window or asked for', async () => {
    const api = await seeded();
    const series = async (query: string) => (await (await api.request('GET', `/stats?${query}`)).json()).series;
    // Up to a day: minutes.
    expect((await series('')).points.map((p: { count: number }) => p.count)).toEqual([3, 0, 2, 1]);
    // Longer than a day: hours, every reading in one bucket; past 90 days: days.
    const week = await series(`from=2026-11-16T00:00:00Z&to=2026-11-23T00:00:00Z`);
    expect([week.bucket, week.points.length, week.truncated]).toEqual(['hour', 7 * 24, false]);
    expect(week.points.find((p: { count: number }) => p.count > 0)).toEqual({
      start: '2026-11-22T10:00:00.000Z',
      count: 6,
      min: 10,
      max: 60,
      mean: 170 / 6,
    });
    const year = await series(`from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z`);
    expect([year.bucket, year.points.length]).toEqual(['day', 364]);
    // Asked for minutes over a week: its last 2,000, and it says so.
    const cut = await series(`from=2026-11-16T00:00:00Z&to=${at('10:04:00')}&bucket=minute`);
    expect([cut.bucket, cut.points.length, cut.truncated]).toEqual(['minute', 2_000, true]);
    expect(cut.points.at(-1)).toEqual({ start: at('10:03:00'), count: 1, min: 60, max: 60, mean: 60 });
    expect((await api.request('GET', '/stats?bucket=week')).status).toBe(422);
  });

  it('answers an empty selection with zeros and nulls, not an error', async () => {
    const stats = await (await (await seeded()).request('GET', '/stats?metric=speed')).json();
    expect(stats).toMatchObject({
      count: 0,
      min: null,
      max: null,
      mean: null,
      mostFrequent: { values: [], count: 0 },
      readingsPerMinute: [],
      perDevice: [],
    });
  });

  it('cuts readings per minute to the window’s last 2,000 minutes, and says so', async () => {
    const api = await seeded();
    const stats = await (await api.request('GET', `/stats?from=2026-01-01T00:00:00Z&to=${at('10:04:00')}`)).json();
    expect(stats.readingsPerMinuteTruncated).toBe(true);
    expect(stats.readingsPerMinute).toHaveLength(2_000);
    expect(stats.readingsPerMinute.at(-1)).toEqual({ minute: at('10:03:00'), count: 1 });
  });

  it('refuses a bad threshold with 422', async () => {
    const response = await (await seeded()).request('GET', '/stats?threshold=high');
    expect(response.status).toBe(422);
    expect((await response.json()).details[0].path).toBe('threshold');
  });
});
