import { MAX_MINUTES, type ReadingFilter, type Stats } from './port.ts';

export const MINUTE_MS = 60_000;

export interface MinuteWindow {
  firstMinute: number;
  lastMinute: number;
  truncated: boolean;
}

/**
 * The minutes /stats lists, as minute numbers (epoch ms / 60,000): [from, to) when given, else
 * first to last reading; cut to its last MAX_MINUTES. Undefined when there is nothing to list.
 */
export function minuteWindow(filter: ReadingFilter, firstTs: number | null, lastTs: number | null): MinuteWindow | undefined {
  const startMs = filter.fromMs ?? firstTs;
  const endMs = filter.toMs === undefined ? lastTs : filter.toMs - 1;
  if (startMs === null || endMs === null || endMs < startMs) return undefined;
  const lastMinute = Math.floor(endMs / MINUTE_MS);
  const firstMinute = Math.floor(startMs / MINUTE_MS);
  const truncated = lastMinute - firstMinute + 1 > MAX_MINUTES;
  return { firstMinute: truncated ? lastMinute - MAX_MINUTES + 1 : firstMinute, lastMinute, truncated };
}

/** Every minute of the window, zeros included, from counts per minute number. */
export function minuteSeries(window: MinuteWindow | undefined, counts: ReadonlyMap<number, number>): Pick<Stats, 'readingsPerMinute' | 'readingsPerMinuteTruncated'> {
  if (!window) return { readingsPerMinute: [], readingsPerMinuteTruncated: false };
  const series = [];
  for (let m = window.firstMinute; m <= window.lastMinute; m++) series.push({ minute: new Date(m * MINUTE_MS).toISOString(), count: counts.get(m) ?? 0 });
  return { readingsPerMinute: series, readingsPerMinuteTruncated: window.truncated };
}
