import { describe, expect, it } from 'bun:test';
import { createTestApi, readingBody } from '../../test-helpers.ts';

const at = (hhmmss: string) => `2026-11-22T${hhmmss}.000Z`;

/** Hand-made: minute 10:01 empty; 20 and 30 tie as most frequent; device-a has one value over 50. */
const fixture = [
  readingBody({ deviceId: 'device-a', value: 10, ts: at('10:00:05') }),
  readingBody({ deviceId: 'device-b', value: 20, ts: at('10:00:20') }),
  readingBody({ deviceId: 'device-a', value: 20, ts: at('10:00:59') }),
  readingBody({ deviceId: 'device-b', value: 30, ts: at('10:02:00') }),
  readingBody({ deviceId: 'device-b', value: 30, ts: at('10:02:30') }),
  readingBody({ deviceId: 'device-a', value: 60, ts: at('10:03:10'), metric: 'temp' }),
];

async function seeded() {
  const api = createTestApi();
  expect((await api.request('POST', '/readings/batch', { readings: fixture })).status).toBe(200);
  return api;
}

describe('GET /stats', () => {
  it('equals the hand-computed statistics', async () => {
    const stats = await (await (await seeded()).request('GET', '/stats')).json();
    expect(stats).toEqual({
      count: 6,
      min: 10,
      max: 60,
      mean: 170 / 6,
      mostFrequent: { values: [20, 30], count: 2, truncated: false },
      readingsPerMinute: [
        { minute: at('10:00:00'), count: 3 },
        { minute: at('10:01:00'), count: 0 },
        { minute: at('10:02:00'), count: 2 },
        { minute: at('10:03:00'), count: 1 },
      ],
      readingsPerMinuteTruncated: false,
      threshold: 50,
      perDevice: [
        { deviceId: 'device-a', count: 3, min: 10, max: 60, mean: 30, overThreshold: 1 },
        { deviceId: 'device-b', count: 3, min: 20, max: 30, mean: 80 / 3, overThreshold: 0 },
      ],
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
      const stats = await (await api.request('GET', `/stats?deviceLimit=100${after ? `&deviceAfter=${after}` : ''}`)).json();
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

  it('covers every minute of an explicit [from, to) window, zeros included, and applies filters', async () => {
    const api = await seeded();
    const stats = await (await api.request('GET', `/stats?deviceId=device-b&from=${at('09:59:00')}&to=${at('10:04:00')}&threshold=25`)).json();
    expect(stats.count).toBe(3);
    expect(stats.readingsPerMinute.map((m: { count: number }) => m.count)).toEqual([0, 1, 0, 2, 0]);
    expect(stats.mostFrequent).toEqual({ values: [30], count: 2, truncated: false });
    expect(stats.perDevice).toEqual([{ deviceId: 'device-b', count: 3, min: 20, max: 30, mean: 80 / 3, overThreshold: 2 }]);
  });

  it('answers an empty selection with zeros and nulls, not an error', async () => {
    const stats = await (await (await seeded()).request('GET', '/stats?metric=speed')).json();
    expect(stats).toMatchObject({ count: 0, min: null, max: null, mean: null, mostFrequent: { values: [], count: 0 }, readingsPerMinute: [], perDevice: [] });
  });

  it('cuts a window longer than a week to its last week, and says so', async () => {
    const api = await seeded();
    const stats = await (await api.request('GET', `/stats?from=2026-01-01T00:00:00Z&to=${at('10:04:00')}`)).json();
    expect(stats.readingsPerMinuteTruncated).toBe(true);
    expect(stats.readingsPerMinute).toHaveLength(7 * 24 * 60);
    expect(stats.readingsPerMinute.at(-1)).toEqual({ minute: at('10:03:00'), count: 1 });
  });

  it('refuses a bad threshold with 422', async () => {
    const response = await (await seeded()).request('GET', '/stats?threshold=high');
    expect(response.status).toBe(422);
    expect((await response.json()).details[0].path).toBe('threshold');
  });
});
