import { asc, avg, count, countDistinct, desc, gt, gte, max, min, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { readings } from '../../db/schema.ts';
import { type ReadingFilter, whereFilter } from '../readings/filters.ts';

const MINUTE_MS = 60_000;
/** A week of minutes: a longer window is cut to its last week, and the answer says so. */
export const MAX_MINUTES = 7 * 24 * 60;
/** Ties for the most frequent value listed at most; the answer says when there were more. */
export const MAX_MODE_TIES = 100;

export interface Stats {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  mostFrequent: { values: number[]; count: number; truncated: boolean };
  readingsPerMinute: Array<{ minute: string; count: number }>;
  readingsPerMinuteTruncated: boolean;
  threshold: number;
  /** One page of devices, by device id: `deviceLimit` of them after `deviceAfter`. */
  perDevice: Array<{ deviceId: string; count: number; min: number; max: number; mean: number; overThreshold: number }>;
  /** Devices in the window, all pages together. */
  perDeviceTotal: number;
  /** True when devices follow this page: pass the last deviceId as `deviceAfter`. */
  perDeviceTruncated: boolean;
}

/** Devices per answer unless asked otherwise, and at most: an answer stays small with 100k devices. */
export const DEFAULT_DEVICE_LIMIT = 100;
export const MAX_DEVICE_LIMIT = 1_000;

export interface DevicePage {
  limit: number;
  after?: string;
}

/** Aggregates in SQLite, so that stats over millions of rows never bring rows into memory. */
export function computeStats(db: Db, filter: ReadingFilter, threshold: number, devices: DevicePage = { limit: DEFAULT_DEVICE_LIMIT }): Stats {
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
    threshold,
    perDevice: perDevice.slice(0, devices.limit),
    perDeviceTotal: deviceTotal,
    perDeviceTruncated: perDevice.length > devices.limit,
  };
}

/** Every minute of the window, zeros included: [from, to) when given, else first to last reading. */
function readingsPerMinute(db: Db, filter: ReadingFilter, firstTs: number | null, lastTs: number | null) {
  const startMs = filter.fromMs ?? firstTs;
  const endMs = filter.toMs === undefined ? lastTs : filter.toMs - 1;
  if (startMs === null || endMs === null || endMs < startMs) return { readingsPerMinute: [], readingsPerMinuteTruncated: false };
  let firstMinute = Math.floor(startMs / MINUTE_MS);
  const lastMinute = Math.floor(endMs / MINUTE_MS);
  const truncated = lastMinute - firstMinute + 1 > MAX_MINUTES;
  if (truncated) firstMinute = lastMinute - MAX_MINUTES + 1;

  const minute = sql<number>`${readings.ts} / ${MINUTE_MS}`.mapWith(Number);
  const counted = db
    .select({ minute, count: count() })
    .from(readings)
    .where(whereFilter(filter, gte(readings.ts, firstMinute * MINUTE_MS)))
    .groupBy(minute)
    .all();
  const byMinute = new Map(counted.map((row) => [row.minute, row.count]));
  const series = [];
  for (let m = firstMinute; m <= lastMinute; m++) series.push({ minute: new Date(m * MINUTE_MS).toISOString(), count: byMinute.get(m) ?? 0 });
  return { readingsPerMinute: series, readingsPerMinuteTruncated: truncated };
}
