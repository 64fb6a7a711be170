import type { SQL } from 'bun';
import { DAY_MINUTES, HOUR_MINUTES, MAX_DISTINCT_VALUES, MINUTE_MS, daySpans } from '../rollups.ts';

/** Writers of readings and rollups take this lock (see store.ts): rollups never miss a batch. */
export const INSERT_LOCK = 7_240_003;

/** One minute of (device, metric) and of (metric) again from its raw readings; its hour marked. */
export async function recomputeMinute(tx: SQL, deviceId: string, metric: string, ts: number): Promise<void> {
  const minute = Math.floor(ts / MINUTE_MS);
  const [from, to] = [minute * MINUTE_MS, (minute + 1) * MINUTE_MS];
  await tx`DELETE FROM rollups_device WHERE level = 1 AND start_minute = ${minute}::bigint AND device_id = ${deviceId} AND metric = ${metric}`;
  await tx`
    INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
    SELECT 1, ${minute}::bigint, device_id, metric, count(*), sum(value), min(value), max(value) FROM readings
    WHERE device_id = ${deviceId} AND metric = ${metric} AND ts >= ${from}::bigint AND ts < ${to}::bigint GROUP BY device_id, metric`;
  await tx`DELETE FROM rollups_metric WHERE level = 1 AND start_minute = ${minute}::bigint AND metric = ${metric}`;
  await tx`
    INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
    SELECT 1, ${minute}::bigint, metric, count(*), sum(value), min(value), max(value) FROM readings
    WHERE metric = ${metric} AND ts >= ${from}::bigint AND ts < ${to}::bigint GROUP BY metric`;
  await tx`INSERT INTO rollup_dirty (hour) VALUES (${Math.floor(minute / HOUR_MINUTES)}::bigint) ON CONFLICT DO NOTHING`;
}

/** A level's rows of the span starting at `start` again from the level below. */
async function derive(tx: SQL, level: number, below: number, start: number): Promise<void> {
  const end = start + level;
  await tx`DELETE FROM rollups_device WHERE level = ${level}::bigint AND start_minute = ${start}::bigint`;
  await tx`
    INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
    SELECT ${level}::integer, ${start}::bigint, device_id, metric, sum(count), sum(sum), min(min), max(max) FROM rollups_device
    WHERE level = ${below}::bigint AND start_minute >= ${start}::bigint AND start_minute < ${end}::bigint GROUP BY device_id, metric`;
  await tx`DELETE FROM rollups_metric WHERE level = ${level}::bigint AND start_minute = ${start}::bigint`;
  await tx`
    INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
    SELECT ${level}::integer, ${start}::bigint, metric, sum(count), sum(sum), min(min), max(max) FROM rollups_metric
    WHERE level = ${below}::bigint AND start_minute >= ${start}::bigint AND start_minute < ${end}::bigint GROUP BY metric`;
}

/**
 * Readings above each threshold per hour row: minutes wholly above or below count at once, a
 * straddling minute's raw readings are counted.
 */
async function hourAbove(tx: SQL, start: number, thresholds: readonly number[]): Promise<void> {
  await tx`DELETE FROM rollup_over WHERE level = ${HOUR_MINUTES}::integer AND start_minute = ${start}::bigint`;
  if (thresholds.length === 0) return;
  await tx`
    INSERT INTO rollup_over (level, start_minute, device_id, metric, threshold, above)
    SELECT 60, ${start}::bigint, m.device_id, m.metric, t.value,
           sum(CASE WHEN m.min > t.value THEN m.count WHEN m.max <= t.value THEN 0 ELSE
             (SELECT count(*) FROM readings r WHERE r.device_id = m.device_id AND r.ts >= m.start_minute * 60000 AND r.ts < (m.start_minute + 1) * 60000 AND r.metric = m.metric AND r.value > t.value)
           END)
    FROM rollups_device m CROSS JOIN unnest(${[...thresholds]}::float8[]) AS t(value)
    WHERE m.level = 1 AND m.start_minute >= ${start}::bigint AND m.start_minute < ${start + HOUR_MINUTES}::bigint
    GROUP BY m.device_id, m.metric, t.value`;
}

/** Per day row, from its hours: the thresholds every hour row of that device and metric has. */
async function dayAbove(tx: SQL, start: number): Promise<void> {
  await tx`DELETE FROM rollup_over WHERE level = ${DAY_MINUTES}::integer AND start_minute = ${start}::bigint`;
  await tx`
    INSERT INTO rollup_over (level, start_minute, device_id, metric, threshold, above)
    SELECT 1440, ${start}::bigint, o.device_id, o.metric, o.threshold, sum(o.above) FROM rollup_over o
    WHERE o.level = 60 AND o.start_minute >= ${start}::bigint AND o.start_minute < ${start + DAY_MINUTES}::bigint
    GROUP BY o.device_id, o.metric, o.threshold
    HAVING count(*) = (SELECT count(*) FROM rollups_device h WHERE h.level = 60 AND h.start_minute >= ${start}::bigint AND h.start_minute < ${start + DAY_MINUTES}::bigint AND h.device_id = o.device_id AND h.metric = o.metric)`;
}

/** Value counts per metric: an hour's from its raw readings, a day's from its hours (see ../rollups.ts). */
async function values(tx: SQL, level: number, start: number): Promise<void> {
  await tx`DELETE FROM rollup_values WHERE level = ${level}::integer AND start_minute = ${start}::bigint`;
  if (level === HOUR_MINUTES) {
    await tx`
      INSERT INTO rollup_values (level, start_minute, metric, value, count)
      SELECT 60, ${start}::bigint, metric, value, n FROM (
        SELECT metric, value, count(*) AS n, count(*) OVER (PARTITION BY metric) AS distinct_values
        FROM readings WHERE ts >= ${start * MINUTE_MS}::bigint AND ts < ${(start + HOUR_MINUTES) * MINUTE_MS}::bigint GROUP BY metric, value
      ) counted WHERE distinct_values <= ${MAX_DISTINCT_VALUES}::bigint`;
    return;
  }
  await tx`
    INSERT INTO rollup_values (level, start_minute, metric, value, count)
    SELECT 1440, ${start}::bigint, metric, value, n FROM (
      SELECT metric, value, sum(count) AS n, count(*) OVER (PARTITION BY metric) AS distinct_values
      FROM rollup_values WHERE level = 60 AND start_minute >= ${start}::bigint AND start_minute < ${start + DAY_MINUTES}::bigint GROUP BY metric, value
    ) counted WHERE distinct_values <= ${MAX_DISTINCT_VALUES}::bigint`;
}

/**
 * Derives the hour and day rows of up to `limit` dirty hours before `beforeHour`, under the
 * insert lock: no batch changes their minutes meanwhile, and instances never derive together.
 */
export function compact(
  sql: SQL,
  beforeHour: number,
  limit: number,
  thresholds: readonly number[] = [],
): Promise<number> {
  // Each threshold once: a repeated one was counted as often as it was repeated.
  const distinct = [...new Set(thresholds)];
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
    const hours: number[] = (
      await tx`SELECT hour::float8 AS hour FROM rollup_dirty WHERE hour < ${beforeHour}::bigint ORDER BY hour LIMIT ${limit}`
    ).map((row: { hour: number }) => row.hour);
    for (const hour of hours) {
      await derive(tx, HOUR_MINUTES, 1, hour * HOUR_MINUTES);
      await hourAbove(tx, hour * HOUR_MINUTES, distinct);
      await values(tx, HOUR_MINUTES, hour * HOUR_MINUTES);
    }
    for (const day of new Set(hours.map((hour) => Math.floor((hour * HOUR_MINUTES) / DAY_MINUTES)))) {
      await derive(tx, DAY_MINUTES, HOUR_MINUTES, day * DAY_MINUTES);
      await dayAbove(tx, day * DAY_MINUTES);
      await values(tx, DAY_MINUTES, day * DAY_MINUTES);
    }
    if (hours.length > 0) await tx`DELETE FROM rollup_dirty WHERE hour = ANY(${hours}::bigint[])`;
    return hours.length;
  });
}

/**
 * Every minute that has raw readings rolled up again from them, a day per transaction (older
 * minutes, whose readings retention removed, keep their rollups); then compaction of it all.
 */
export async function rebuild(sql: SQL, thresholds: readonly number[] = []): Promise<{ minutes: number }> {
  const [{ first, last }] = await sql`SELECT min(ts)::float8 AS first, max(ts)::float8 AS last FROM readings`;
  if (first === null || last === null) return { minutes: 0 };
  const spans = daySpans(first, last);
  for (const { from, to } of spans) {
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${INSERT_LOCK})`;
      await tx`DELETE FROM rollups_device WHERE level = 1 AND start_minute >= ${from}::bigint AND start_minute < ${to}::bigint`;
      await tx`DELETE FROM rollups_metric WHERE level = 1 AND start_minute >= ${from}::bigint AND start_minute < ${to}::bigint`;
      await tx`
        INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
        SELECT 1, ts / 60000, device_id, metric, count(*), sum(value), min(value), max(value) FROM readings
        WHERE ts >= ${from * MINUTE_MS}::bigint AND ts < ${to * MINUTE_MS}::bigint GROUP BY 2, 3, 4`;
      await tx`
        INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
        SELECT 1, ts / 60000, metric, count(*), sum(value), min(value), max(value) FROM readings
        WHERE ts >= ${from * MINUTE_MS}::bigint AND ts < ${to * MINUTE_MS}::bigint GROUP BY 2, 3`;
      await tx`
        INSERT INTO rollup_dirty (hour) SELECT generate_series(${Math.floor(from / HOUR_MINUTES)}::bigint, ${Math.floor((to - 1) / HOUR_MINUTES)}::bigint)
        ON CONFLICT DO NOTHING`;
    });
  }
  while ((await compact(sql, Number.MAX_SAFE_INTEGER, 100, thresholds)) > 0);
  return { minutes: (spans.at(-1)?.to ?? 0) - (spans[0]?.from ?? 0) };
}

/** Removes up to `limit` rollup rows (any level) that start before `beforeMinute`. */
export async function removeRollupsBefore(sql: SQL, beforeMinute: number, limit: number): Promise<number> {
  let removed = 0;
  for (const level of [1, HOUR_MINUTES, DAY_MINUTES]) {
    if (removed < limit) {
      removed += (
        await sql`DELETE FROM rollups_device WHERE ctid IN (SELECT ctid FROM rollups_device WHERE level = ${level}::bigint AND start_minute < ${beforeMinute}::bigint LIMIT ${limit - removed})`
      ).count;
    }
    if (removed < limit) {
      removed += (
        await sql`DELETE FROM rollups_metric WHERE ctid IN (SELECT ctid FROM rollups_metric WHERE level = ${level}::bigint AND start_minute < ${beforeMinute}::bigint LIMIT ${limit - removed})`
      ).count;
    }
    if (removed < limit) {
      removed += (
        await sql`DELETE FROM rollup_over WHERE ctid IN (SELECT ctid FROM rollup_over WHERE level = ${level}::bigint AND start_minute < ${beforeMinute}::bigint LIMIT ${limit - removed})`
      ).count;
    }
    if (removed < limit) {
      removed += (
        await sql`DELETE FROM rollup_values WHERE ctid IN (SELECT ctid FROM rollup_values WHERE level = ${level}::bigint AND start_minute < ${beforeMinute}::bigint LIMIT ${limit - removed})`
      ).count;
    }
  }
  return removed;
}
