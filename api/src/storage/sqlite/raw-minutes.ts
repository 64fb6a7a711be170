import type { Database, Statement } from 'bun:sqlite';
import { type RawNames, namedRaw } from '../rollup-sql.ts';
import { DAY_MINUTES, HOUR_MINUTES, MINUTE_MS } from '../rollups.ts';
import type { ColdView } from './cold-view.ts';
import { DAY_MS } from './kept-ids.ts';

/** A group of raw readings as a rollup row's count, sum, min and max. */
export const AGGREGATES = 'count(*), sum(value), min(value), max(value)';
/** Readings (of alias `r`, or unnamed) of the hour starting at minute ?1. */
const inHour = (r = '') => `${r}ts >= ?1 * ${MINUTE_MS} AND ${r}ts < (?1 + ${HOUR_MINUTES}) * ${MINUTE_MS}`;

/**
 * A statement that reads raw readings, prepared for the names it reads them by (cold-view.ts):
 * rows alone, or rows and the compressed readings loaded for it.
 */
export function rawStatement(sqlite: Database, sql: string): (names: RawNames) => Statement {
  const prepared = new Map<string, Statement>();
  return (names) => {
    let statement = prepared.get(names.readings);
    if (!statement) {
      statement = sqlite.prepare(namedRaw(sql, names));
      prepared.set(names.readings, statement);
    }
    return statement;
  };
}

/**
 * Compressed days keep no device minute rows (`rollups_device` level 1): a device reporting less
 * than once a minute had a row and an index entry a reading there, most of a compressed day's
 * bytes. Those days are listed in `device_minute_days` (from_raw = 1); /stats reads a device's
 * partial hours there from raw readings (rollup-stats.ts), and what compaction and edits derived
 * from device minutes is derived here from the raw readings instead — each statement runs in the
 * caller's transaction, within a cold view's loading of its hour or minute.
 */
export function rawMinuteStatements(sqlite: Database, cold: ColdView) {
  const fromRawOf = sqlite.prepare('SELECT from_raw FROM device_minute_days WHERE day = ?');
  // An hour's device rows from its raw readings: written only where they changed, removed where
  // the hour has no reading of that device and metric left.
  const hourDevices = rawStatement(
    sqlite,
    `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
     SELECT ${HOUR_MINUTES}, ?1, device_id, metric, ${AGGREGATES} FROM «raw readings» WHERE ${inHour()} GROUP BY device_id, metric
     ON CONFLICT DO UPDATE SET count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max
     WHERE count IS NOT excluded.count OR sum IS NOT excluded.sum OR min IS NOT excluded.min OR max IS NOT excluded.max`,
  );
  const hourDevicesVanished = rawStatement(
    sqlite,
    `DELETE FROM rollups_device AS s WHERE s.level = ${HOUR_MINUTES} AND s.start_minute = ?1 AND NOT EXISTS (
       SELECT 1 FROM «raw readings» r WHERE r.device_id = s.device_id AND ${inHour('r.')} AND r.metric = s.metric)`,
  );
  // Readings above each threshold of a JSON array per device row of the hour ?1: every device's
  // (thresholds ?2), or one device's and metric's (?2, ?3; thresholds ?4).
  const aboveSql = (series: boolean) =>
    `INSERT INTO rollup_over (level, start_minute, device_id, metric, threshold, above)
     SELECT ${HOUR_MINUTES}, ?1, r.device_id, r.metric, t.value, sum(r.value > t.value)
     FROM «raw readings» r CROSS JOIN json_each(${series ? '?4' : '?2'}) t
     WHERE ${series ? `r.device_id = ?2 AND ${inHour('r.')} AND r.metric = ?3` : inHour('r.')}
     GROUP BY r.device_id, r.metric, t.value`;
  const hourAbove = rawStatement(sqlite, aboveSql(false));
  const seriesHourAbove = rawStatement(sqlite, aboveSql(true));
  // One device's and metric's (?2, ?3) row of the hour ?1.
  const seriesHour = rawStatement(
    sqlite,
    `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
     SELECT ${HOUR_MINUTES}, ?1, device_id, metric, ${AGGREGATES} FROM «raw readings»
     WHERE device_id = ?2 AND ${inHour()} AND metric = ?3 GROUP BY device_id, metric`,
  );
  // All devices' minute ?1 of the metric ?2 (elsewhere summed from the device minutes).
  const metricMinute = rawStatement(
    sqlite,
    `INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
     SELECT 1, ?1, metric, ${AGGREGATES} FROM «raw readings» WHERE metric = ?2 AND ts >= ?1 * ${MINUTE_MS} AND ts < (?1 + 1) * ${MINUTE_MS} GROUP BY metric`,
  );
  // Device minutes made rows again from raw readings between two times (ms).
  const deviceMinutesBetween = rawStatement(
    sqlite,
    `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
     SELECT 1, ts / ${MINUTE_MS}, device_id, metric, ${AGGREGATES} FROM «raw readings» WHERE ts >= ?1 AND ts < ?2 GROUP BY 2, 3, 4`,
  );
  const dropDeviceMinutes = sqlite.prepare(
    'DELETE FROM rollups_device WHERE level = 1 AND start_minute >= ? AND start_minute < ?',
  );
  const dropSomeDeviceMinutes = sqlite.prepare(
    `DELETE FROM rollups_device WHERE (level, start_minute, device_id, metric) IN (
       SELECT level, start_minute, device_id, metric FROM rollups_device WHERE level = 1 AND start_minute >= ? AND start_minute < ? LIMIT ?)`,
  );
  // Compressed days newer than any listed, before the bound: days are compressed oldest first,
  // so these are the ones compaction reached since (a day it left behind keeps its minutes).
  const newlyCompressed = sqlite.prepare(
    `SELECT DISTINCT day FROM reading_chunks WHERE day > (SELECT coalesce(max(day), -1e15) FROM device_minute_days) AND day < ? ORDER BY day`,
  );
  const list = sqlite.prepare('INSERT INTO device_minute_days (day, from_raw, cleared) VALUES (?, 1, 0)');
  const uncleared = sqlite.prepare(
    'SELECT day FROM device_minute_days WHERE from_raw = 1 AND cleared = 0 ORDER BY day LIMIT 1',
  );
  const markCleared = sqlite.prepare('UPDATE device_minute_days SET cleared = 1 WHERE day = ?');
  const keep = sqlite.prepare('UPDATE device_minute_days SET from_raw = 0 WHERE day = ?');
  const fromRawBefore = sqlite.prepare(
    'SELECT day FROM device_minute_days WHERE from_raw = 1 AND day < ? ORDER BY day',
  );

  /**
   * Lists the days compressed before the bound (reads go to their raw readings from then on,
   * whatever minute rows are left), then removes up to `limit` minute rows of the first listed
   * day that has any: a day of a thousand devices holds up to a million, too many for one
   * transaction's WAL. Whether none is left.
   */
  const dropStep = sqlite.transaction((beforeMs: number, limit: number): boolean => {
    for (const { day } of newlyCompressed.all(Math.floor(beforeMs / DAY_MS)) as Array<{
      day: number;
    }>)
      list.run(day);
    const next = uncleared.get() as { day: number } | null;
    if (!next) return true;
    const removed = dropSomeDeviceMinutes.run(next.day * DAY_MINUTES, (next.day + 1) * DAY_MINUTES, limit).changes;
    if (removed < limit) markCleared.run(next.day);
    return removed < limit && !uncleared.get();
  });
  // One transaction: a late reading stored between steps would miss its minute row.
  const keepDay = sqlite.transaction((day: number) => {
    const window = { fromMs: day * DAY_MS, toMs: (day + 1) * DAY_MS };
    dropDeviceMinutes.run(day * DAY_MINUTES, (day + 1) * DAY_MINUTES);
    cold.read([window], (names) => deviceMinutesBetween(names).run(window.fromMs, window.toMs));
    keep.run(day);
  });

  return {
    /** Device minute rows made from raw readings in [?1, ?2) ms (rebuilds use it too). */
    deviceMinutesBetween,
    /** Whether the day keeps no device minute rows (its minutes read from raw readings). */
    fromRaw(day: number): boolean {
      return (fromRawOf.get(day) as { from_raw: number } | null)?.from_raw === 1;
    },
    /** The hour's device rows and counts above `above` (a JSON array) again from raw readings. */
    deriveHour(names: RawNames, start: number, above: string) {
      hourDevicesVanished(names).run(start);
      hourDevices(names).run(start);
      hourAbove(names).run(start, above);
    },
    /** One series' row of the hour (dropped by the caller) and its counts above `above`. */
    deriveSeriesHour(names: RawNames, start: number, deviceId: string, metric: string, above: string) {
      seriesHour(names).run(start, deviceId, metric);
      seriesHourAbove(names).run(start, deviceId, metric, above);
    },
    /** All devices' minute of a metric (dropped by the caller) from raw readings. */
    metricMinute(minute: number, metric: string) {
      cold.read([{ fromMs: minute * MINUTE_MS, toMs: (minute + 1) * MINUTE_MS, metric }], (names) =>
        metricMinute(names).run(minute, metric),
      );
    },
    /**
     * A step of compressed days before `beforeMs` giving up their device minute rows (at most
     * `limit` removed): whether none is left to remove.
     */
    dropCompressedBefore: (beforeMs: number, limit: number): boolean => dropStep(beforeMs, limit),
    /**
     * Before retention removes raw readings before `beforeMs`: the days it reaches keep device
     * minute rows again (made from their raw readings while all are there), for good.
     */
    keepBefore(beforeMs: number) {
      const endDay = Math.ceil(beforeMs / DAY_MS);
      for (const { day } of fromRawBefore.all(endDay) as Array<{ day: number }>) keepDay(day);
    },
  };
}
