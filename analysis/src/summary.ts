import type { Row } from './rows.ts';

export interface Filters {
  fromMs?: number;
  toMs?: number;
  deviceId?: string;
  metric?: string;
}

export interface BadRow {
  line: number;
  error: string;
}

export interface MinuteStats {
  minute: string;
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
}

export interface Summary {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Population standard deviation. */
  stdDev: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** How the quantiles and the mode were counted: exact, or in buckets of `bucketWidth`. */
  counting: { method: 'exact' | 'bucketed'; distinctValues: number; bucketWidth: number | null };
  mostFrequent: { values: number[]; count: number };
  threshold: number;
  readingsPerMinute: MinuteStats[];
  perDevice: Array<{ deviceId: string; count: number; mean: number; overThreshold: number; overThresholdShare: number }>;
  badRows: number;
  badRowSamples: BadRow[];
  filters: { from: string | null; to: string | null; deviceId: string | null; metric: string | null };
}

const MINUTE_MS = 60_000;
/** Distinct values counted exactly; past this they are bucketed (and the summary says so). */
export const MAX_DISTINCT_VALUES = 100_000;
const BAD_ROW_SAMPLES = 10;

/**
 * One streaming pass over rows, in memory bounded by distinct values (capped), minutes in the
 * window and devices — never by the row count. Mean and deviation by Welford's method; the mode
 * and quantiles from the value-count map, so they are exact until the map is bucketed, and then
 * within one bucket width.
 */
export function createSummary(threshold: number, filters: Filters = {}) {
  let count = 0;
  let mean = 0;
  let m2 = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let bucketWidth = 0;
  let valueCounts = new Map<number, number>();
  const minutes = new Map<number, { count: number; sum: number; min: number; max: number }>();
  const devices = new Map<string, { count: number; sum: number; over: number }>();
  let recentMinute = Number.NaN;
  let recentSlot: { count: number; sum: number; min: number; max: number } | undefined;
  let firstMinute = Number.POSITIVE_INFINITY;
  let lastMinute = Number.NEGATIVE_INFINITY;
  let badRows = 0;
  const badRowSamples: BadRow[] = [];

  const bucketOf = (value: number) => (bucketWidth === 0 ? value : Math.floor(value / bucketWidth) * bucketWidth);

  /** Coarsens the counts by powers of ten until they fit again. */
  const rebucket = () => {
    const span = Math.max(max - min, Number.EPSILON);
    bucketWidth = bucketWidth === 0 ? 10 ** Math.ceil(Math.log10(span / (MAX_DISTINCT_VALUES / 10))) : bucketWidth * 10;
    const coarse = new Map<number, number>();
    for (const [value, n] of valueCounts) {
      const bucket = bucketOf(value);
      coarse.set(bucket, (coarse.get(bucket) ?? 0) + n);
    }
    valueCounts = coarse;
  };

  return {
    /** True when the row passes the filters (and was counted). */
    add(row: Row): boolean {
      if (filters.fromMs !== undefined && row.ts < filters.fromMs) return false;
      if (filters.toMs !== undefined && row.ts >= filters.toMs) return false;
      if (filters.deviceId !== undefined && row.deviceId !== filters.deviceId) return false;
      if (filters.metric !== undefined && row.metric !== filters.metric) return false;
      const { value } = row;
      count += 1;
      const delta = value - mean;
      mean += delta / count;
      m2 += delta * (value - mean);
      if (value < min) min = value;
      if (value > max) max = value;
      const key = bucketOf(value);
      valueCounts.set(key, (valueCounts.get(key) ?? 0) + 1);
      if (valueCounts.size > MAX_DISTINCT_VALUES) rebucket();
      const minute = Math.floor(row.ts / MINUTE_MS);
      if (minute < firstMinute) firstMinute = minute;
      if (minute > lastMinute) lastMinute = minute;
      // Rows mostly arrive in time order: the previous row's minute is usually this one's.
      const slot = minute === recentMinute ? recentSlot : minutes.get(minute);
      if (slot) {
        recentMinute = minute;
        recentSlot = slot;
        slot.count += 1;
        slot.sum += value;
        if (value < slot.min) slot.min = value;
        if (value > slot.max) slot.max = value;
      } else minutes.set(minute, { count: 1, sum: value, min: value, max: value });
      const device = devices.get(row.deviceId);
      const over = value > threshold ? 1 : 0;
      if (device) {
        device.count += 1;
        device.sum += value;
        device.over += over;
      } else devices.set(row.deviceId, { count: 1, sum: value, over });
      return true;
    },

    bad(line: number, error: string) {
      badRows += 1;
      if (badRowSamples.length < BAD_ROW_SAMPLES) badRowSamples.push({ line, error });
    },

    get count() {
      return count;
    },

    /** [value (or bucket start), count], by value: for the distribution chart. */
    valueCounts(): Array<[number, number]> {
      return [...valueCounts.entries()].sort((a, b) => a[0] - b[0]);
    },

    finish(): Summary {
      const sorted = [...valueCounts.entries()].sort((a, b) => a[0] - b[0]);
      const quantile = (p: number): number | null => {
        if (count === 0) return null;
        const rank = Math.ceil(p * count);
        let seen = 0;
        for (const [value, n] of sorted) {
          seen += n;
          if (seen >= rank) return value;
        }
        return max;
      };
      let topCount = 0;
      for (const [, n] of sorted) if (n > topCount) topCount = n;
      const first = filters.fromMs !== undefined ? Math.floor(filters.fromMs / MINUTE_MS) : firstMinute;
      const last = filters.toMs !== undefined ? Math.floor((filters.toMs - 1) / MINUTE_MS) : lastMinute;
      const readingsPerMinute: MinuteStats[] = [];
      if (Number.isFinite(first) && Number.isFinite(last)) {
        for (let minute = first; minute <= last; minute++) {
          const slot = minutes.get(minute);
          readingsPerMinute.push({
            minute: new Date(minute * MINUTE_MS).toISOString(),
            count: slot?.count ?? 0,
            mean: slot ? slot.sum / slot.count : null,
            min: slot?.min ?? null,
            max: slot?.max ?? null,
          });
        }
      }
      const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
      return {
        count,
        min: count ? min : null,
        max: count ? max : null,
        mean: count ? mean : null,
        stdDev: count ? Math.sqrt(m2 / count) : null,
        p50: quantile(0.5),
        p95: quantile(0.95),
        p99: quantile(0.99),
        counting: { method: bucketWidth === 0 ? 'exact' : 'bucketed', distinctValues: valueCounts.size, bucketWidth: bucketWidth || null },
        mostFrequent: { values: sorted.filter(([, n]) => n === topCount && count > 0).map(([value]) => value), count: topCount },
        threshold,
        readingsPerMinute,
        perDevice: [...devices.entries()]
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          .map(([deviceId, d]) => ({ deviceId, count: d.count, mean: d.sum / d.count, overThreshold: d.over, overThresholdShare: d.over / d.count })),
        badRows,
        badRowSamples,
        filters: { from: iso(filters.fromMs), to: iso(filters.toMs), deviceId: filters.deviceId ?? null, metric: filters.metric ?? null },
      };
    },
  };
}
