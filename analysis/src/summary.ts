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

/** One bucket of the series over time: from `start` (ISO), a minute, an hour or a day long. */
export interface BucketStats {
  start: string;
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
}

export type TimeBucket = 'minute' | 'hour' | 'day';

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
  /**
   * Readings over time, every bucket of the window (empty ones included): the window is --from/--to
   * when given, else the span that holds the data densely (see timeOutliers); the bucket grows with
   * the span (minutes up to 2 days, hours up to 90, then days), so the series stays a few thousand
   * points whatever the data.
   */
  overTime: { bucket: TimeBucket; points: BucketStats[] };
  /**
   * Readings far in time from the rest (a device's clock in another year, one stray old reading):
   * outside the series' window, counted in every other statistic, and named here.
   */
  timeOutliers: { count: number; earliest: string; latest: string } | null;
  perDevice: Array<{
    deviceId: string;
    count: number;
    mean: number;
    overThreshold: number;
    overThresholdShare: number;
  }>;
  badRows: number;
  badRowSamples: BadRow[];
  filters: { from: string | null; to: string | null; deviceId: string | null; metric: string | null };
}

const MINUTE_MS = 60_000;
const BUCKET_MINUTES: Record<TimeBucket, number> = { minute: 1, hour: 60, day: 1_440 };
/** Readings at each end of the time span left out when finding where the data lies densely. */
const TAIL_SHARE = 0.005;
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

  /**
   * The minutes the series covers: --from/--to when given; else the minutes of the readings, less
   * those far from where the data lies densely — beyond the span from the first 0.5% of readings
   * to the last 0.5% by as much again as that span (a day at least), which are the outliers.
   */
  const timeWindow = (): { window: { first: number; last: number } | undefined; outliers: Summary['timeOutliers'] } => {
    if (filters.fromMs !== undefined || filters.toMs !== undefined) {
      const first = filters.fromMs !== undefined ? Math.floor(filters.fromMs / MINUTE_MS) : firstMinute;
      const last = filters.toMs !== undefined ? Math.floor((filters.toMs - 1) / MINUTE_MS) : lastMinute;
      return { window: Number.isFinite(first) && Number.isFinite(last) ? { first, last } : undefined, outliers: null };
    }
    const occupied = [...minutes.entries()].sort((a, b) => a[0] - b[0]);
    const total = occupied.reduce((sum, [, slot]) => sum + slot.count, 0);
    if (total === 0) return { window: undefined, outliers: null };
    const minuteAtShare = (share: number) => {
      let seen = 0;
      for (const [minute, slot] of occupied) {
        seen += slot.count;
        if (seen > share * total) return minute;
      }
      return lastMinute;
    };
    const [coreFirst, coreLast] = [minuteAtShare(TAIL_SHARE), minuteAtShare(1 - TAIL_SHARE)];
    const margin = Math.max(coreLast - coreFirst, BUCKET_MINUTES.day);
    const kept = occupied.filter(([minute]) => minute >= coreFirst - margin && minute <= coreLast + margin);
    const far = occupied.filter(([minute]) => minute < coreFirst - margin || minute > coreLast + margin);
    const window = { first: (kept[0] as [number, unknown])[0], last: (kept.at(-1) as [number, unknown])[0] };
    if (far.length === 0) return { window, outliers: null };
    const iso = (minute: number) => new Date(minute * MINUTE_MS).toISOString();
    return {
      window,
      outliers: {
        count: far.reduce((sum, [, slot]) => sum + slot.count, 0),
        earliest: iso((far[0] as [number, unknown])[0]),
        latest: iso((far.at(-1) as [number, unknown])[0]),
      },
    };
  };

  /** Every bucket of the window, its size following the window's span. */
  const seriesOver = (window: { first: number; last: number } | undefined): Summary['overTime'] => {
    if (!window) return { bucket: 'minute', points: [] };
    const span = window.last - window.first + 1;
    const bucket: TimeBucket =
      span <= 2 * BUCKET_MINUTES.day ? 'minute' : span <= 90 * BUCKET_MINUTES.day ? 'hour' : 'day';
    const size = BUCKET_MINUTES[bucket];
    const buckets = new Map<number, { count: number; sum: number; min: number; max: number }>();
    for (const [minute, slot] of minutes) {
      if (minute < window.first || minute > window.last) continue;
      const key = Math.floor(minute / size);
      const into = buckets.get(key);
      if (!into) buckets.set(key, { ...slot });
      else {
        into.count += slot.count;
        into.sum += slot.sum;
        into.min = Math.min(into.min, slot.min);
        into.max = Math.max(into.max, slot.max);
      }
    }
    const points: BucketStats[] = [];
    for (let key = Math.floor(window.first / size); key <= Math.floor(window.last / size); key++) {
      const slot = buckets.get(key);
      points.push({
        start: new Date(key * size * MINUTE_MS).toISOString(),
        count: slot?.count ?? 0,
        mean: slot ? slot.sum / slot.count : null,
        min: slot?.min ?? null,
        max: slot?.max ?? null,
      });
    }
    return { bucket, points };
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
      const { window, outliers } = timeWindow();
      const overTime = seriesOver(window);
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
        counting: {
          method: bucketWidth === 0 ? 'exact' : 'bucketed',
          distinctValues: valueCounts.size,
          bucketWidth: bucketWidth || null,
        },
        mostFrequent: {
          values: sorted.filter(([, n]) => n === topCount && count > 0).map(([value]) => value),
          count: topCount,
        },
        threshold,
        overTime,
        timeOutliers: outliers,
        perDevice: [...devices.entries()]
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          .map(([deviceId, d]) => ({
            deviceId,
            count: d.count,
            mean: d.sum / d.count,
            overThreshold: d.over,
            overThresholdShare: d.over / d.count,
          })),
        badRows,
        badRowSamples,
        filters: {
          from: iso(filters.fromMs),
          to: iso(filters.toMs),
          deviceId: filters.deviceId ?? null,
          metric: filters.metric ?? null,
        },
      };
    },
  };
}
