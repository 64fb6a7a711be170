import { type Reading, newEventId } from 'core';
import { createSignal } from './signal.ts';

/** `wave`: each device a slow wave with rare excursions (see signal.ts); `uniform`: any value of the range, each reading. */
export const PATTERNS = ['wave', 'uniform'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface SimulatorOptions {
  devices: number;
  /** Average time between two readings of one device. */
  intervalMs: number;
  valueMin: number;
  valueMax: number;
  /** Decimals per value; 0 gives integers, as the original simulator did. */
  decimals: number;
  metric: string;
  unit: string;
  /** Default `wave`. */
  pattern?: Pattern;
  /** Each gap is intervalMs × (1 ± jitter), so devices drift apart instead of ticking together. Default 0.1. */
  jitter?: number;
  random?: () => number;
  startMs?: number;
}

/** After a stall (a paused laptop, a long GC), catch up at most this much instead of bursting. */
const MAX_CATCH_UP_MS = 1_000;

export interface Simulator {
  readonly deviceIds: readonly string[];
  /** Every reading that has come due by `nowMs`, at most `limit`, in time order per device. */
  due(nowMs: number, limit?: number): Reading[];
  /** When the next reading comes due. */
  nextDueAt(): number;
}

/** `device-001`, `device-002`, ... (wider once there are more than 999). */
export function deviceIdFor(index: number, devices: number): string {
  return `device-${String(index + 1).padStart(Math.max(3, String(devices).length), '0')}`;
}

/**
 * Simulated devices, each reporting a value in [valueMin, valueMax] about every intervalMs: a
 * signal of its own (`wave`), or a uniformly random one (`uniform`: alerts by the second). Pure:
 * the caller owns the clock, which keeps the rate testable.
 */
export function createSimulator(options: SimulatorOptions): Simulator {
  const {
    devices,
    intervalMs,
    metric,
    unit,
    decimals,
    pattern = 'wave',
    jitter = 0.1,
    random = Math.random,
    startMs = Date.now(),
  } = options;
  const scale = 10 ** decimals;
  // Draw whole units of 10^-decimals so both ends of the range are reachable and never exceeded.
  const lowest = Math.ceil(options.valueMin * scale);
  const span = Math.floor(options.valueMax * scale) - lowest + 1;
  const deviceIds = Array.from({ length: devices }, (_, index) => deviceIdFor(index, devices));
  // Random phases spread the devices over the first interval.
  const nextDue = deviceIds.map(() => startMs + random() * intervalMs);

  const nextGap = () => intervalMs * (1 + jitter * (2 * random() - 1));
  const uniform = () => (lowest + Math.floor(random() * span)) / scale;
  const signals = deviceIds.map(() =>
    createSignal({ valueMin: lowest / scale, valueMax: (lowest + span - 1) / scale, intervalMs, random }),
  );
  // A signal's value on the grid of `decimals`, inside the range.
  const onGrid = (value: number) => Math.min(lowest + span - 1, Math.max(lowest, Math.round(value * scale))) / scale;
  const nextValue = (index: number, nowMs: number) =>
    pattern === 'uniform' ? uniform() : onGrid((signals[index] as (nowMs: number) => number)(nowMs));

  return {
    deviceIds,
    due(nowMs, limit = Number.POSITIVE_INFINITY) {
      const readings: Reading[] = [];
      for (let index = 0; index < devices && readings.length < limit; index++) {
        let dueAt = nextDue[index] as number;
        if (nowMs - dueAt > MAX_CATCH_UP_MS) dueAt = nowMs - MAX_CATCH_UP_MS;
        const deviceId = deviceIds[index] as string;
        while (dueAt <= nowMs && readings.length < limit) {
          readings.push({ id: newEventId(nowMs), deviceId, metric, value: nextValue(index, nowMs), unit, ts: nowMs });
          dueAt += nextGap();
        }
        nextDue[index] = dueAt;
      }
      return readings;
    },
    nextDueAt() {
      let earliest = Number.POSITIVE_INFINITY;
      for (const dueAt of nextDue) if (dueAt < earliest) earliest = dueAt;
      return earliest;
    },
  };
}
