import { MAX_MINUTES, type ReadingFilter, type Stats } from './port.ts';

export const MINUTE_MS = 60_000;

export interface MinuteWindow {
  firstMinute: number;
  lastMinute: number;
  truncated: boolean;
}

/**
 * The window's last ms: before `to` when given, else the last reading's. That one is known to the
 * minute (rollups): when `from` lies inside the last reading's minute, the reading is at or after
 * it, so the window ends there rather than before it begins (a property test found /stats
 * listing no minute for a window from a reading's own time).
 */
function windowEnd(filter: ReadingFilter, startMs: number | null, lastTs: number | null): number | null {
  if (filter.toMs !== undefined) return filter.toMs - 1;
  if (lastTs === null || startMs === null) return lastTs;
  return Math.floor(startMs / MINUTE_MS) * MINUTE_MS === lastTs ? Math.max(lastTs, startMs) : lastTs;
}

/**
 * The minutes /stats lists, as minute numbers (epoch ms / 60,000): [from, to) when given, else
 * first to last reading; cut to its last MAX_MINUTES. Undefined when there is nothing to list.
 */
export function minuteWindow(
  filter: ReadingFilter,
  firstTs: number | null,
  lastTs: number | null,
): MinuteWindow | undefined {
  const startMs = filter.fromMs ?? firstTs;
  const endMs = windowEnd(filter, startMs, lastTs);
  if (startMs === null || endMs === null || endMs < startMs) return undefined;
  const lastMinute = Math.floor(endMs / MINUTE_MS);
  const firstMinute = Math.floor(startMs / MINUTE_MS);
  const truncated = lastMinute - firstMinute + 1 > MAX_MINUTES;
  return { firstMinute: truncated ? lastMinute - MAX_MINUTES + 1 : firstMinute, lastMinute, truncated };
}

/** Every minute of the window, zeros included, from counts per minute number. */
export function minuteSeries(
  window: MinuteWindow | undefined,
  counts: ReadonlyMap<number, number>,
): Pick<Stats, 'readingsPerMinute' | 'readingsPerMinuteTruncated'> {
  if (!window) return { readingsPerMinute: [], readingsPerMinuteTruncated: false };
  const series = [];
  for (let m = window.firstMinute; m <= window.lastMinute; m++)
    series.push({ minute: new Date(m * MINUTE_MS).toISOString(), count: counts.get(m) ?? 0 });
  return { readingsPerMinute: series, readingsPerMinuteTruncated: window.truncated };
}

/** The buckets a /stats series can have, in ms. */
export const BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type Bucket = keyof typeof BUCKETS;
/** Points in a series at most: a window longer than this many buckets keeps its last ones. */
export const MAX_BUCKETS = 2_000;

export interface BucketWindow {
  bucket: Bucket;
  /** Bucket numbers (epoch ms / bucket ms), inclusive. */
  first: number;
  last: number;
  truncated: boolean;
}

/**
 * The series' window: [from, to) when given, else first to last reading; its bucket as asked, or
 * by the window's span — minutes up to a day, hours up to 90 days, days beyond; cut to its last
 * MAX_BUCKETS buckets. Undefined when there is nothing to list.
 */
export function bucketWindow(
  filter: ReadingFilter,
  firstTs: number | null,
  lastTs: number | null,
  asked?: Bucket,
): BucketWindow | undefined {
  const startMs = filter.fromMs ?? firstTs;
  const endMs = windowEnd(filter, startMs, lastTs);
  if (startMs === null || endMs === null || endMs < startMs) return undefined;
  const span = endMs - startMs;
  const bucket: Bucket = asked ?? (span <= BUCKETS.day ? 'minute' : span <= 90 * BUCKETS.day ? 'hour' : 'day');
  const size = BUCKETS[bucket];
  const last = Math.floor(endMs / size);
  const first = Math.floor(startMs / size);
  const truncated = last - first + 1 > MAX_BUCKETS;
  return { bucket, first: truncated ? last - MAX_BUCKETS + 1 : first, last, truncated };
}

export interface BucketRow {
  bucket: number;
  count: number;
  min: number;
  max: number;
  mean: number;
}

/** Every bucket of the window, empty ones included (count 0, no min/max/mean). */
export function bucketSeries(window: BucketWindow | undefined, rows: readonly BucketRow[]): Stats['series'] {
  if (!window) return { bucket: 'minute', points: [], truncated: false };
  const byBucket = new Map(rows.map((row) => [row.bucket, row]));
  const size = BUCKETS[window.bucket];
  const points = [];
  for (let b = window.first; b <= window.last; b++) {
    const row = byBucket.get(b);
    points.push({
      start: new Date(b * size).toISOString(),
      count: row?.count ?? 0,
      min: row?.min ?? null,
      max: row?.max ?? null,
      mean: row?.mean ?? null,
    });
  }
  return { bucket: window.bucket, points, truncated: window.truncated };
}
