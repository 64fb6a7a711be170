import { asc, avg, count, countDistinct, desc, gt, gte, max, min, sql } from 'drizzle-orm';
import { BUCKETS, type Bucket, type BucketRow, MINUTE_MS, bucketSeries, bucketWindow, minuteSeries, minuteWindow } from '../minutes.ts';
import { type DevicePage, MAX_MODE_TIES, type ReadingFilter, type Stats } from '../port.ts';
import type { Db } from './client.ts';
import { whereFilter } from './filters.ts';
import { readings } from './schema.ts';


/** Aggregates in SQLite, so that stats over millions of rows never bring rows into memory. */
export function computeStats(db: Db, filter: ReadingFilter, threshold: number, devices: DevicePage, bucket?: Bucket): Stats {
  const where = whereFilter(filter);
  const totals = db
    .select({ count: count(), min: min(readings.value), max: max(readings.value), mean: avg(readings.value), firstTs: min(readings.ts), lastTs: max(readings.ts) })
    .from(readings)
    .where(where)
    .get() ?? { count: 0, min: null, max: null, mean: null, firstTs: null, lastTs: null };

  const frequency = count().as('frequency');
  const modeRows = db
    .select({ value: readings.value, frequency })
    .from(readings)
    .where(where)
    .groupBy(readings.value)
    .orderBy(desc(frequency), asc(readings.value))
    .limit(MAX_MODE_TIES + 1)
    .all();
  const topCount = modeRows[0]?.frequency ?? 0;
  const tied = modeRows.filter((row) => row.frequency === topCount);

  const perMinute = readingsPerMinute(db, filter, totals.firstTs, totals.lastTs);

  const over = sql<number>`sum(case when ${readings.value} > ${threshold} then 1 else 0 end)`;
  const perDevice = db
    .select({ deviceId: readings.deviceId, count: count(), min: min(readings.value), max: max(readings.value), mean: avg(readings.value), overThreshold: over })
    .from(readings)
    .where(whereFilter(filter, devices.after === undefined ? undefined : gt(readings.deviceId, devices.after)))
    .groupBy(readings.deviceId)
    .orderBy(readings.deviceId)
    .limit(devices.limit + 1)
    .all()
    .map((row) => ({ ...row, min: Number(row.min), max: Number(row.max), mean: Number(row.mean), overThreshold: Number(row.overThreshold) }));
  const deviceTotal = db.select({ devices: countDistinct(readings.deviceId) }).from(readings).where(where).get()?.devices ?? 0;

  return {
    count: totals.count,
    min: totals.min,
    max: totals.max,
    mean: totals.mean === null ? null : Number(totals.mean),
    mostFrequent: { values: tied.slice(0, MAX_MODE_TIES).map((row) => row.value), count: topCount, truncated: tied.length > MAX_MODE_TIES },
    ...perMinute,
    series: series(db, filter, totals.firstTs, totals.lastTs, bucket),
    threshold,
    perDevice: perDevice.slice(0, devices.limit),
    perDeviceTotal: deviceTotal,
    perDeviceTruncated: perDevice.length > devices.limit,
  };
}

/** The window's buckets, each with count, min, max and mean. */
function series(db: Db, filter: ReadingFilter, firstTs: number | null, lastTs: number | null, asked?: Bucket): Stats['series'] {
  const window = bucketWindow(filter, firstTs, lastTs, asked);
  if (!window) return bucketSeries(undefined, []);
  const size = BUCKETS[window.bucket];
  const bucket = sql<number>`${readings.ts} / ${size}`.mapWith(Number);
  const rows = db
    .select({ bucket, count: count(), min: min(readings.value), max: max(readings.value), mean: avg(readings.value) })
    .from(readings)
    .where(whereFilter(filter, gte(readings.ts, window.first * size)))
    .groupBy(bucket)
    .all()
    .map((row) => ({ bucket: row.bucket, count: row.count, min: Number(row.min), max: Number(row.max), mean: Number(row.mean) }) satisfies BucketRow);
  return bucketSeries(window, rows);
}

/** Readings per minute of the window /stats lists. */
function readingsPerMinute(db: Db, filter: ReadingFilter, firstTs: number | null, lastTs: number | null) {
  const window = minuteWindow(filter, firstTs, lastTs);
  if (!window) return minuteSeries(undefined, new Map());
  const minute = sql<number>`${readings.ts} / ${MINUTE_MS}`.mapWith(Number);
  const counted = db
    .select({ minute, count: count() })
    .from(readings)
    .where(whereFilter(filter, gte(readings.ts, window.firstMinute * MINUTE_MS)))
    .groupBy(minute)
    .all();
  return minuteSeries(window, new Map(counted.map((row) => [row.minute, row.count])));
}
