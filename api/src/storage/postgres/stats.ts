import type { SQL } from 'bun';
import { BUCKETS, type Bucket, type BucketRow, MINUTE_MS, bucketSeries, bucketWindow, minuteSeries, minuteWindow } from '../minutes.ts';
import { type DevicePage, MAX_MODE_TIES, type ReadingFilter, type Stats } from '../port.ts';
import { whereFilter } from './filters.ts';


/** The same statistics as every backend gives (see port.ts), aggregated in PostgreSQL. */
export async function computeStats(sql: SQL, filter: ReadingFilter, threshold: number, devices: DevicePage, bucket?: Bucket): Promise<Stats> {
  const where = whereFilter(sql, filter);
  const [totals] = await sql`
    SELECT count(*)::float8 AS count, min(value) AS min, max(value) AS max, avg(value)::float8 AS mean,
           min(ts)::float8 AS "firstTs", max(ts)::float8 AS "lastTs"
    FROM readings WHERE ${where}`;
  const modeRows: Array<{ value: number; frequency: number }> = await sql`
    SELECT value, count(*)::float8 AS frequency FROM readings WHERE ${where}
    GROUP BY value ORDER BY frequency DESC, value ASC LIMIT ${MAX_MODE_TIES + 1}`;
  const topCount = modeRows[0]?.frequency ?? 0;
  const tied = modeRows.filter((row) => row.frequency === topCount);

  const deviceWhere = devices.after === undefined ? where : sql`${where} AND device_id > ${devices.after}`;
  const perDevice: Stats['perDevice'] = await sql`
    SELECT device_id AS "deviceId", count(*)::float8 AS count, min(value) AS min, max(value) AS max, avg(value)::float8 AS mean,
           count(*) FILTER (WHERE value > ${threshold})::float8 AS "overThreshold"
    FROM readings WHERE ${deviceWhere}
    GROUP BY device_id ORDER BY device_id LIMIT ${devices.limit + 1}`;
  const [{ total }] = await sql`SELECT count(DISTINCT device_id)::float8 AS total FROM readings WHERE ${where}`;

  return {
    count: totals.count,
    min: totals.min,
    max: totals.max,
    mean: totals.mean,
    mostFrequent: { values: tied.slice(0, MAX_MODE_TIES).map((row) => row.value), count: topCount, truncated: tied.length > MAX_MODE_TIES },
    ...(await readingsPerMinute(sql, filter, totals.firstTs, totals.lastTs)),
    series: await series(sql, filter, totals.firstTs, totals.lastTs, bucket),
    threshold,
    perDevice: perDevice.slice(0, devices.limit).map((row) => ({ ...row })),
    perDeviceTotal: total,
    perDeviceTruncated: perDevice.length > devices.limit,
  };
}

/** The window's buckets, each with count, min, max and mean. */
async function series(sql: SQL, filter: ReadingFilter, firstTs: number | null, lastTs: number | null, asked?: Bucket): Promise<Stats['series']> {
  const window = bucketWindow(filter, firstTs, lastTs, asked);
  if (!window) return bucketSeries(undefined, []);
  const size = BUCKETS[window.bucket];
  const rows: BucketRow[] = await sql`
    SELECT (ts / ${size})::float8 AS bucket, count(*)::float8 AS count, min(value) AS min, max(value) AS max, avg(value)::float8 AS mean
    FROM readings WHERE ${whereFilter(sql, filter)} AND ts >= ${window.first * size}
    GROUP BY 1`;
  return bucketSeries(window, rows);
}

/** Readings per minute of the window /stats lists. */
async function readingsPerMinute(sql: SQL, filter: ReadingFilter, firstTs: number | null, lastTs: number | null) {
  const window = minuteWindow(filter, firstTs, lastTs);
  if (!window) return minuteSeries(undefined, new Map());
  const counted: Array<{ minute: number; count: number }> = await sql`
    SELECT (ts / ${MINUTE_MS})::float8 AS minute, count(*)::float8 AS count
    FROM readings WHERE ${whereFilter(sql, filter)} AND ts >= ${window.firstMinute * MINUTE_MS}
    GROUP BY 1`;
  return minuteSeries(window, new Map(counted.map((row) => [row.minute, row.count])));
}
