import { describe, expect, it } from 'bun:test';
import { validateReading } from 'core';
import { seededRandom } from 'core/testing';
import { createSimulator, deviceIdFor } from './simulator.ts';

const base = { devices: 5, intervalMs: 1_000, valueMin: 10, valueMax: 100, decimals: 0, metric: 'kwh', unit: 'kWh' };

describe('createSimulator', () => {
  it('names devices device-001 onwards, wider past 999', () => {
    expect(deviceIdFor(0, 5)).toBe('device-001');
    expect(deviceIdFor(41, 5)).toBe('device-042');
    expect(deviceIdFor(0, 10_000)).toBe('device-00001');
  });

  it('uniform: reports valid integer readings anywhere in the inclusive range from every device', () => {
    const simulator = createSimulator({ ...base, pattern: 'uniform', startMs: 0 });
    const readings = Array.from({ length: 600 }, (_, second) => simulator.due(second * 1_000)).flat();
    const values = new Set(readings.map((r) => r.value));
    for (const reading of readings) expect(validateReading(reading)).toBe(reading);
    expect(new Set(readings.map((r) => r.deviceId))).toEqual(new Set(simulator.deviceIds));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...values)).toBeLessThanOrEqual(100);
    expect([...values].every(Number.isInteger)).toBe(true);
    // Both ends of the range are reachable.
    expect(values.has(10) && values.has(100)).toBe(true);
  });

  it('wave (the default): over a simulated hour the default fleet crosses the default threshold a few times, not every second', () => {
    const random = seededRandom(7);
    const simulator = createSimulator({ ...base, random, startMs: 0 });
    const crossings = (pattern: 'wave' | 'uniform') => {
      const run = createSimulator({ ...base, pattern, random: seededRandom(7), startMs: 0 });
      const above = new Map<string, boolean>();
      let count = 0;
      for (let second = 0; second < 3_600; second++) {
        for (const reading of run.due(second * 1_000)) {
          const over = reading.value > 50;
          if (over !== (above.get(reading.deviceId) ?? false)) count += 1;
          above.set(reading.deviceId, over);
        }
      }
      return count;
    };
    // ~3 excursions an hour over 5 devices: a firing and a resolved each.
    expect(crossings('wave')).toBeGreaterThan(0);
    expect(crossings('wave')).toBeLessThanOrEqual(20);
    expect(crossings('uniform')).toBeGreaterThan(5_000);
    // Every value valid, in range, integer; each device moves smoothly between readings, but for its excursions.
    const readings = Array.from({ length: 600 }, (_, second) => simulator.due(second * 1_000)).flat();
    for (const reading of readings) expect(validateReading(reading)).toBe(reading);
    expect(readings.every((r) => Number.isInteger(r.value) && r.value >= 10 && r.value <= 100)).toBe(true);
    expect(new Set(readings.map((r) => r.deviceId))).toEqual(new Set(simulator.deviceIds));
  });

  it('keeps the configured decimals', () => {
    const simulator = createSimulator({ ...base, valueMin: 0, valueMax: 1, decimals: 2, startMs: 0 });
    const readings = Array.from({ length: 100 }, (_, second) => simulator.due(second * 1_000)).flat();
    expect(readings.every((r) => Number(r.value.toFixed(2)) === r.value && r.value >= 0 && r.value <= 1)).toBe(true);
    expect(readings.some((r) => !Number.isInteger(r.value))).toBe(true);
  });

  it('holds the average rate with jitter, without devices ticking in lock-step', () => {
    const simulator = createSimulator({ ...base, devices: 10, intervalMs: 100, startMs: 0 });
    let count = 0;
    const tickTimes = new Set<number>();
    for (let now = 0; now <= 60_000; now += 1) {
      const readings = simulator.due(now);
      count += readings.length;
      if (readings.length > 0) tickTimes.add(now);
    }
    // 10 devices × 10/s × 60 s.
    expect(count).toBeGreaterThan(5_940);
    expect(count).toBeLessThan(6_060);
    // Lock-step ticking would fire all ten devices at the same few instants.
    expect(tickTimes.size).toBeGreaterThan(count * 0.8);
  });

  it('does not burst after a long stall', () => {
    const simulator = createSimulator({ ...base, devices: 1, intervalMs: 100, startMs: 0 });
    simulator.due(0);
    // An hour's pause yields at most about a second's worth, not 36,000 readings.
    expect(simulator.due(3_600_000).length).toBeLessThanOrEqual(12);
  });

  it('never returns more than the limit', () => {
    const simulator = createSimulator({ ...base, devices: 100, intervalMs: 1, startMs: 0 });
    expect(simulator.due(10_000, 7)).toHaveLength(7);
  });
});
