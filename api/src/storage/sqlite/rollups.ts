import type { Database } from 'bun:sqlite';
import type { RawNames } from '../rollup-sql.ts';
import {
  DAY_MINUTES,
  HOUR_MINUTES,
  MAX_DISTINCT_VALUES,
  MINUTE_MS,
  type MinuteRollup,
  daySpans,
  minuteRollups,
} from '../rollups.ts';
import { type ColdView, coldViewOf } from './cold-view.ts';
import { AGGREGATES, rawMinuteStatements, rawStatement } from './raw-minutes.ts';

const MERGE =
  'count = count + excluded.count, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max)';
const MERGED = 'sum(count), sum(sum), min(min), max(max)';

/**
 * Readings above each threshold of the JSON array `thresholds` per device hour row starting at
 * ?1, from the minute rows `minutes` (aliased m) that `where` picks: minutes wholly above or
 * below count at once, a straddling minute's raw readings are counted.
 */
function hourAboveSql(minutes: string, where: string, thresholds: string): string {
  return `INSERT INTO rollup_over (level, start_minute, device_id, metric, threshold, above)
     SELECT ${HOUR_MINUTES}, ?1, m.device_id, m.metric, t.value,
            sum(CASE WHEN m.min > t.value THEN m.count WHEN m.max <= t.value THEN 0 ELSE
              (SELECT count(*) FROM «raw readings» r WHERE r.device_id = m.device_id AND r.ts >= m.start_minute * ${MINUTE_MS} AND r.ts < (m.start_minute + 1) * ${MINUTE_MS} AND r.metric = m.metric AND r.value > t.value)
            END)
     FROM ${minutes} CROSS JOIN json_each(${thresholds}) t
     WHERE ${where}
     GROUP BY m.device_id, m.metric, t.value`;
}

type Reading = { deviceId: string; metric: string; value: number; ts: number };

/**
 * Late readings added to the hours and days compaction derived already, as the insert adds
 * readings to their minutes: count, sum, min and max merged, the counts above each threshold
 * kept there raised, a value's count raised. Exact for an insert, so the hour stays derived:
 * /stats keeps reading it whole and compaction has nothing to redo, where a thousand late
 * readings spread over a month had left ~540 hours to read at minute level and to derive again.
 */
function derivedSpans(sqlite: Database) {
  const device = sqlite.prepare(
    `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ${MERGE}`,
  );
  const metric = sqlite.prepare(
    `INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ${MERGE}`,
  );
  const raiseAbove = sqlite.prepare(
    'UPDATE rollup_over SET above = above + 1 WHERE level = ? AND start_minute = ? AND device_id = ? AND metric = ? AND threshold < ?',
  );
  const hasMetric = sqlite.prepare('SELECT 1 FROM rollups_metric WHERE level = ? AND start_minute = ? AND metric = ?');
  const hasValues = sqlite.prepare(
    'SELECT 1 FROM rollup_values WHERE level = ? AND start_minute = ? AND metric = ? LIMIT 1',
  );
  const raiseValue = sqlite.prepare(
    'INSERT INTO rollup_values (level, start_minute, metric, value, count) VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1',
  );
  const spansOf = (minute: number) =>
    [
      [HOUR_MINUTES, minute - (minute % HOUR_MINUTES)],
      [DAY_MINUTES, minute - (minute % DAY_MINUTES)],
    ] as const;
  return {
    /** `rows` (and their minutes) of the `hours` given (derived, not dirty) added to their hours and days. */
    add(
      rows: readonly Reading[],
      { devices: deviceMinutes, metrics: metricMinutes }: { devices: MinuteRollup[]; metrics: MinuteRollup[] },
      hours: ReadonlySet<number>,
    ) {
      const inHours = (minute: number) => hours.has(Math.floor(minute / HOUR_MINUTES));
      // A span's value counts are raised where it keeps them, or begun where it had no reading of
      // the metric; a span past the bound of distinct values keeps none, and stays so.
      const keepsValues = new Map<string, boolean>();
      for (const r of metricMinutes) {
        if (!inHours(r.minute)) continue;
        for (const [level, start] of spansOf(r.minute)) {
          const key = `${level}\u0000${start}\u0000${r.metric}`;
          if (!keepsValues.has(key))
            keepsValues.set(key, !hasMetric.get(level, start, r.metric) || !!hasValues.get(level, start, r.metric));
        }
      }
      for (const r of metricMinutes) {
        if (!inHours(r.minute)) continue;
        for (const [level, start] of spansOf(r.minute))
          metric.run(level, start, r.metric, r.count, r.sum, r.min, r.max);
      }
      for (const r of deviceMinutes) {
        if (!inHours(r.minute)) continue;
        for (const [level, start] of spansOf(r.minute))
          device.run(level, start, r.deviceId, r.metric, r.count, r.sum, r.min, r.max);
      }
      for (const row of rows) {
        const minute = Math.floor(row.ts / MINUTE_MS);
        if (!inHours(minute)) continue;
        for (const [level, start] of spansOf(minute)) {
          raiseAbove.run(level, start, row.deviceId, row.metric, row.value);
          if (keepsValues.get(`${level}\u0000${start}\u0000${row.metric}`))
            raiseValue.run(level, start, row.metric, row.value);
        }
      }
    },
  };
}

/**
 * Devices and metrics of an hour past which it is derived whole rather than one by one (an
 * import of old readings from every device, say): ~0.3 ms each alone, ~17 ms an hour of 1,000.
 */
const SERIES_PER_HOUR = 32;

/**
 * The rollups' statements on one SQLite connection (see ../rollups.ts). Each runs inside the
 * caller's transaction: `add` in the insert's, `recompute` in a PATCH's or DELETE's.
 */
export function rollupStatements(
  sqlite: Database,
  clock: () => number = Date.now,
  /** Raw readings of both tiers, rows and compressed chunks, where a statement needs them. */
  cold: ColdView = coldViewOf(sqlite),
) {
  const hourMs = (start: number) => ({ fromMs: start * MINUTE_MS, toMs: (start + HOUR_MINUTES) * MINUTE_MS });
  const upsertDevice = sqlite.prepare(
    `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max) VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ${MERGE}`,
  );
  const upsertMetric = sqlite.prepare(
    `INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max) VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ${MERGE}`,
  );
  const markDirty = sqlite.prepare('INSERT OR IGNORE INTO rollup_dirty (hour) VALUES (?)');
  const isDirty = sqlite.prepare('SELECT 1 FROM rollup_dirty WHERE hour = ?');
  const hasHourRows = sqlite.prepare(
    `SELECT 1 FROM rollups_metric WHERE level = ${HOUR_MINUTES} AND start_minute = ? LIMIT 1`,
  );
  /**
   * Compaction derived the hour, and nothing changed it since. An hour without readings so far is
   * not: its first ones (an import of old readings, say) are derived whole, counts above the
   * thresholds and all.
   */
  const isDerived = (hour: number) => !isDirty.get(hour) && !!hasHourRows.get(hour * HOUR_MINUTES);
  const spans = derivedSpans(sqlite);
  const rawMinutes = rawMinuteStatements(sqlite, cold);
  const dropSeries = sqlite.prepare('DELETE FROM rollup_dirty_series WHERE hour = ?');
  const addSeries = sqlite.prepare(
    'INSERT OR IGNORE INTO rollup_dirty_series (hour, device_id, metric) VALUES (?, ?, ?)',
  );
  const hasSeries = sqlite.prepare('SELECT 1 FROM rollup_dirty_series WHERE hour = ? LIMIT 1');
  const seriesOf = sqlite.prepare('SELECT device_id, metric FROM rollup_dirty_series WHERE hour = ?');
  /** The hour to be derived whole. */
  const markWhole = (hour: number) => {
    markDirty.run(hour);
    dropSeries.run(hour);
  };
  /** The hour to be derived for this device and metric — unless it is to be derived whole already. */
  const markSeries = (hour: number, deviceId: string, metric: string) => {
    if (markDirty.run(hour).changes > 0 || hasSeries.get(hour)) addSeries.run(hour, deviceId, metric);
  };

  // One minute again from its raw readings: after a PATCH or DELETE (min and max cannot be undone).
  const dropDeviceMinute = sqlite.prepare(
    'DELETE FROM rollups_device WHERE level = 1 AND start_minute = ? AND device_id = ? AND metric = ?',
  );
  // A device's minute from its rows and its compressed readings (a late row can join a chunk's
  // minute); all devices' minute from the device minutes, which hold both tiers already.
  const deviceMinute = rawStatement(
    sqlite,
    `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
     SELECT 1, ?1, device_id, metric, ${AGGREGATES} FROM «raw readings» WHERE device_id = ?2 AND metric = ?3 AND ts >= ?1 * 60000 AND ts < (?1 + 1) * 60000 GROUP BY device_id, metric`,
  );
  const dropMetricMinute = sqlite.prepare(
    'DELETE FROM rollups_metric WHERE level = 1 AND metric = ? AND start_minute = ?',
  );
  const metricMinute = sqlite.prepare(
    `INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
     SELECT 1, ?1, metric, ${MERGED} FROM rollups_device WHERE level = 1 AND start_minute = ?1 AND metric = ?2 GROUP BY metric`,
  );

  // Compaction: a level's rows of one span again from the level below.
  const deriveMetrics = (level: number, below: number) => {
    const drop = sqlite.prepare(`DELETE FROM rollups_metric WHERE level = ${level} AND start_minute = ?`);
    const insert = sqlite.prepare(
      `INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
       SELECT ${level}, ?1, metric, ${MERGED} FROM rollups_metric WHERE level = ${below} AND start_minute >= ?1 AND start_minute < ?1 + ${level} GROUP BY metric`,
    );
    return (start: number) => {
      drop.run(start);
      insert.run(start);
    };
  };
  // A device row of a span is written only where it changed, and removed only where the level
  // below has none left: a late reading changes one device's row of its hour, and rewriting the
  // span's thousand rows (each a page of the by-device index of its own) made compacting an hour
  // 27 ms and 4 MiB of WAL where a thousand late readings had dirtied 540 hours.
  const deriveDevices = (level: number, below: number) => {
    const upsert = sqlite.prepare(
      `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
       SELECT ${level}, ?1, device_id, metric, ${MERGED} FROM rollups_device WHERE level = ${below} AND start_minute >= ?1 AND start_minute < ?1 + ${level} GROUP BY device_id, metric
       ON CONFLICT DO UPDATE SET count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max
       WHERE count IS NOT excluded.count OR sum IS NOT excluded.sum OR min IS NOT excluded.min OR max IS NOT excluded.max`,
    );
    const dropVanished = sqlite.prepare(
      `DELETE FROM rollups_device AS s WHERE s.level = ${level} AND s.start_minute = ?1 AND NOT EXISTS (
         SELECT 1 FROM rollups_device b WHERE b.device_id = s.device_id AND b.level = ${below} AND b.start_minute >= ?1 AND b.start_minute < ?1 + ${level} AND b.metric = s.metric)`,
    );
    return (start: number) => {
      dropVanished.run(start);
      upsert.run(start);
    };
  };
  // One device and metric of a span again from the level below (by device: by time alone, SQLite
  // would read every device's rows of the span), with its counts above the thresholds.
  const seriesStatements = (level: number, below: number) => ({
    drop: sqlite.prepare(
      `DELETE FROM rollups_device WHERE level = ${level} AND start_minute = ?1 AND device_id = ?2 AND metric = ?3`,
    ),
    insert: sqlite.prepare(
      `INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max)
       SELECT ${level}, ?1, device_id, metric, ${MERGED} FROM rollups_device INDEXED BY rollups_device_by_device
       WHERE device_id = ?2 AND level = ${below} AND start_minute >= ?1 AND start_minute < ?1 + ${level} AND metric = ?3 GROUP BY device_id, metric`,
    ),
    dropAbove: sqlite.prepare(
      `DELETE FROM rollup_over WHERE level = ${level} AND start_minute = ?1 AND device_id = ?2 AND metric = ?3`,
    ),
  });
  const seriesHour = seriesStatements(HOUR_MINUTES, 1);
  const seriesHourAbove = rawStatement(
    sqlite,
    hourAboveSql(
      'rollups_device m INDEXED BY rollups_device_by_device',
      `m.device_id = ?2 AND m.level = 1 AND m.start_minute >= ?1 AND m.start_minute < ?1 + ${HOUR_MINUTES} AND m.metric = ?3`,
      '?4',
    ),
  );
  const seriesDay = seriesStatements(DAY_MINUTES, HOUR_MINUTES);
  // The series' hours of the day, found by device: rollup_over is keyed by time first, and a
  // range of a day over it read every device's rows (5 ms a day).
  const hoursOfSeries = `SELECT h.start_minute FROM rollups_device h INDEXED BY rollups_device_by_device
     WHERE h.device_id = ?2 AND h.level = ${HOUR_MINUTES} AND h.start_minute >= ?1 AND h.start_minute < ?1 + ${DAY_MINUTES} AND h.metric = ?3`;
  const seriesDayAbove = sqlite.prepare(
    `INSERT INTO rollup_over (level, start_minute, device_id, metric, threshold, above)
     SELECT ${DAY_MINUTES}, ?1, o.device_id, o.metric, o.threshold, sum(o.above) FROM rollup_over o
     WHERE o.level = ${HOUR_MINUTES} AND o.start_minute IN (${hoursOfSeries}) AND o.device_id = ?2 AND o.metric = ?3
     GROUP BY o.device_id, o.metric, o.threshold
     HAVING count(*) = (SELECT count(*) FROM (${hoursOfSeries}))`,
  );
  const deriveSeriesHour = (
    start: number,
    deviceId: string,
    metric: string,
    above: string,
    names: RawNames,
    fromRaw: boolean,
  ) => {
    seriesHour.drop.run(start, deviceId, metric);
    seriesHour.dropAbove.run(start, deviceId, metric);
    if (fromRaw) return rawMinutes.deriveSeriesHour(names, start, deviceId, metric, above);
    seriesHour.insert.run(start, deviceId, metric);
    seriesHourAbove(names).run(start, deviceId, metric, above);
  };
  const deriveSeriesDay = (start: number, deviceId: string, metric: string) => {
    seriesDay.drop.run(start, deviceId, metric);
    seriesDay.insert.run(start, deviceId, metric);
    seriesDay.dropAbove.run(start, deviceId, metric);
    seriesDayAbove.run(start, deviceId, metric);
  };

  // Per level, its device rows and its metric rows again from the level below.
  const hourly = { devices: deriveDevices(HOUR_MINUTES, 1), metrics: deriveMetrics(HOUR_MINUTES, 1) };
  const daily = {
    devices: deriveDevices(DAY_MINUTES, HOUR_MINUTES),
    metrics: deriveMetrics(DAY_MINUTES, HOUR_MINUTES),
  };
  // Readings above each threshold (a JSON array) per hour row: minutes wholly above or below
  // count at once, a straddling minute's raw readings are counted; per day row, from its hours,
  // for the thresholds every hour row of that device and metric has.
  const dropAbove = sqlite.prepare('DELETE FROM rollup_over WHERE level = ? AND start_minute = ?');
  const hourAbove = rawStatement(
    sqlite,
    hourAboveSql(
      'rollups_device m',
      `m.level = 1 AND m.start_minute >= ?1 AND m.start_minute < ?1 + ${HOUR_MINUTES}`,
      '?2',
    ),
  );
  const dayAbove = sqlite.prepare(
    `INSERT INTO rollup_over (level, start_minute, device_id, metric, threshold, above)
     SELECT ${DAY_MINUTES}, ?1, o.device_id, o.metric, o.threshold, sum(o.above) FROM rollup_over o
     WHERE o.level = ${HOUR_MINUTES} AND o.start_minute >= ?1 AND o.start_minute < ?1 + ${DAY_MINUTES}
     GROUP BY o.device_id, o.metric, o.threshold
     HAVING count(*) = (SELECT count(*) FROM rollups_device h WHERE h.level = ${HOUR_MINUTES} AND h.start_minute >= ?1 AND h.start_minute < ?1 + ${DAY_MINUTES} AND h.device_id = o.device_id AND h.metric = o.metric)`,
  );
  // Value counts per metric: an hour's from its raw readings, a day's from its hours; a metric
  // with more distinct values than the bound keeps none there.
  const dropValues = sqlite.prepare('DELETE FROM rollup_values WHERE level = ? AND start_minute = ?');
  // From the stored rows, each metric's name looked up once per value rather than through the
  // readings view's three lookups per reading (1.9 → 1.4 ms an hour of 2,800 readings).
  const hourValues = rawStatement(
    sqlite,
    `INSERT INTO rollup_values (level, start_minute, metric, value, count)
     SELECT ${HOUR_MINUTES}, ?1, m.name, v.value, v.n FROM (
       SELECT metric, value, count(*) AS n, count(*) OVER (PARTITION BY metric) AS distinct_values
       FROM «raw rows» WHERE ts >= ?1 * ${MINUTE_MS} AND ts < (?1 + ${HOUR_MINUTES}) * ${MINUTE_MS} GROUP BY metric, value
     ) v JOIN names m ON m.key = v.metric WHERE v.distinct_values <= ${MAX_DISTINCT_VALUES}`,
  );
  const dayValues = sqlite.prepare(
    `INSERT INTO rollup_values (level, start_minute, metric, value, count)
     SELECT ${DAY_MINUTES}, ?1, metric, value, n FROM (
       SELECT metric, value, sum(count) AS n, count(*) OVER (PARTITION BY metric) AS distinct_values
       FROM rollup_values WHERE level = ${HOUR_MINUTES} AND start_minute >= ?1 AND start_minute < ?1 + ${DAY_MINUTES} GROUP BY metric, value
     ) WHERE distinct_values <= ${MAX_DISTINCT_VALUES}`,
  );
  const dirtyBefore = sqlite.prepare('SELECT hour FROM rollup_dirty WHERE hour < ? ORDER BY hour LIMIT ?');
  const clean = sqlite.prepare('DELETE FROM rollup_dirty WHERE hour = ?');
  const compact = sqlite.transaction((beforeHour: number, limit: number, thresholds: readonly number[]) => {
    const hours = (dirtyBefore.all(beforeHour, limit) as Array<{ hour: number }>).map((row) => row.hour);
    // Each threshold once: json_each gave a repeated one as often as it was repeated, and the
    // hour's count above it was summed that many times (found by the rollups property test).
    const above = JSON.stringify([...new Set(thresholds)]);
    /** Per day: its device rows to derive — all (a whole hour in it), or those of these series. */
    const days = new Map<number, 'whole' | Map<string, { deviceId: string; metric: string }>>();
    for (const hour of hours) {
      const start = hour * HOUR_MINUTES;
      const day = Math.floor(start / DAY_MINUTES);
      const series = seriesOf.all(hour) as Array<{ device_id: string; metric: string }>;
      // The hour's raw readings, its compressed ones too: straddling minutes and value counts.
      // A day without device minute rows derives its hours' device rows from raw readings.
      const fromRaw = rawMinutes.fromRaw(day);
      cold.read([hourMs(start)], (names) => {
        if (series.length === 0 || series.length > SERIES_PER_HOUR) {
          hourly.metrics(start);
          dropAbove.run(HOUR_MINUTES, start);
          if (fromRaw) rawMinutes.deriveHour(names, start, above);
          else {
            hourly.devices(start);
            hourAbove(names).run(start, above);
          }
          days.set(day, 'whole');
        } else {
          // The metric rows (one a minute) whole: cheap, and what every device's change touches.
          hourly.metrics(start);
          const inDay = days.get(day) ?? new Map();
          for (const { device_id: deviceId, metric } of series) {
            deriveSeriesHour(start, deviceId, metric, above, names, fromRaw);
            if (inDay !== 'whole') inDay.set(`${deviceId}\u0000${metric}`, { deviceId, metric });
          }
          days.set(day, inDay);
        }
        dropValues.run(HOUR_MINUTES, start);
        hourValues(names).run(start);
      });
    }
    for (const [day, series] of days) {
      const start = day * DAY_MINUTES;
      if (series === 'whole') {
        daily.devices(start);
        daily.metrics(start);
        dropAbove.run(DAY_MINUTES, start);
        dayAbove.run(start);
      } else {
        daily.metrics(start);
        for (const { deviceId, metric } of series.values()) deriveSeriesDay(start, deviceId, metric);
      }
      dropValues.run(DAY_MINUTES, start);
      dayValues.run(start);
    }
    for (const hour of hours) {
      clean.run(hour);
      dropSeries.run(hour);
    }
    return hours.length;
  });

  // Rebuild, a day at a time: that day's minute rows again from raw readings, its hours dirty.
  const rebuildMetrics = rawStatement(
    sqlite,
    `INSERT INTO rollups_metric (level, start_minute, metric, count, sum, min, max)
     SELECT 1, ts / 60000, metric, ${AGGREGATES} FROM «raw readings» WHERE ts >= ?1 AND ts < ?2 GROUP BY 2, 3`,
  );
  const dropMinutes = [
    sqlite.prepare('DELETE FROM rollups_device WHERE level = 1 AND start_minute >= ? AND start_minute < ?'),
    sqlite.prepare('DELETE FROM rollups_metric WHERE level = 1 AND start_minute >= ? AND start_minute < ?'),
  ];
  const rebuildSpan = sqlite.transaction((fromMinute: number, toMinute: number) => {
    for (const drop of dropMinutes) drop.run(fromMinute, toMinute);
    const window = { fromMs: fromMinute * MINUTE_MS, toMs: toMinute * MINUTE_MS };
    const fromRaw = rawMinutes.fromRaw(Math.floor(fromMinute / DAY_MINUTES));
    cold.read([window], (names) => {
      if (!fromRaw) rawMinutes.deviceMinutesBetween(names).run(window.fromMs, window.toMs);
      rebuildMetrics(names).run(window.fromMs, window.toMs);
    });
    for (let hour = Math.floor(fromMinute / HOUR_MINUTES); hour * HOUR_MINUTES < toMinute; hour++) markWhole(hour);
  });
  const rawSpan = sqlite.prepare(
    `SELECT min(first) AS first, max(last) AS last FROM (
       SELECT min(ts) AS first, max(ts) AS last FROM reading_rows
       UNION ALL SELECT min(first_ts), max(last_ts) FROM reading_chunks)`,
  );

  // Retention of rollups, a chunk of one table's oldest rows at a time (by its key).
  const removers = [
    sqlite.prepare(
      'DELETE FROM rollups_device WHERE (level, start_minute, device_id, metric) IN (SELECT level, start_minute, device_id, metric FROM rollups_device WHERE level = ? AND start_minute < ? LIMIT ?)',
    ),
    sqlite.prepare(
      'DELETE FROM rollups_metric WHERE (level, metric, start_minute) IN (SELECT level, metric, start_minute FROM rollups_metric WHERE level = ? AND start_minute < ? LIMIT ?)',
    ),
    sqlite.prepare(
      'DELETE FROM rollup_over WHERE (level, start_minute, device_id, metric, threshold) IN (SELECT level, start_minute, device_id, metric, threshold FROM rollup_over WHERE level = ? AND start_minute < ? LIMIT ?)',
    ),
    sqlite.prepare(
      'DELETE FROM rollup_values WHERE (level, start_minute, metric, value) IN (SELECT level, start_minute, metric, value FROM rollup_values WHERE level = ? AND start_minute < ? LIMIT ?)',
    ),
  ];

  return {
    /**
     * Adds the rows stored now to their minutes, and to their hours and days where those are
     * derived already and the rows came late; marks the rest of their hours for compaction.
     */
    add(rows: readonly Reading[]) {
      const { devices, metrics, hours } = minuteRollups(rows);
      const late = Math.floor(clock() / (HOUR_MINUTES * MINUTE_MS)) - 1;
      const derived = new Set<number>();
      const lateSeries = new Map<number, typeof devices>();
      for (const hour of hours) if (hour < late && isDerived(hour)) derived.add(hour);
      // Before the minutes: whether a span's value counts are kept is told by its metric row.
      if (derived.size > 0) spans.add(rows, { devices, metrics }, derived);
      // A day without device minute rows gets none: its minutes are read from raw readings.
      const fromRaw = new Map<number, boolean>();
      const keepsMinutes = (minute: number) => {
        const day = Math.floor(minute / DAY_MINUTES);
        let raw = fromRaw.get(day);
        if (raw === undefined) fromRaw.set(day, (raw = rawMinutes.fromRaw(day)));
        return !raw;
      };
      for (const r of devices) {
        if (keepsMinutes(r.minute)) upsertDevice.run(r.minute, r.deviceId, r.metric, r.count, r.sum, r.min, r.max);
        const hour = Math.floor(r.minute / HOUR_MINUTES);
        if (hour >= late || derived.has(hour)) continue;
        const series = lateSeries.get(hour);
        if (series) series.push(r);
        else lateSeries.set(hour, [r]);
      }
      for (const r of metrics) upsertMetric.run(r.minute, r.metric, r.count, r.sum, r.min, r.max);
      // This hour and the one before whole (readings on time, from every device); an older one not
      // derived yet by device and metric (late readings, a few devices' each).
      for (const hour of hours) {
        if (derived.has(hour)) continue;
        const series = lateSeries.get(hour);
        if (!series || series.length > SERIES_PER_HOUR) markWhole(hour);
        else for (const r of series) markSeries(hour, r.deviceId, r.metric);
      }
    },
    /** The minute of (deviceId, metric, ts) again from its raw readings, and its hour marked. */
    recompute(deviceId: string, metric: string, ts: number) {
      const minute = Math.floor(ts / MINUTE_MS);
      dropMetricMinute.run(metric, minute);
      if (rawMinutes.fromRaw(Math.floor(minute / DAY_MINUTES))) rawMinutes.metricMinute(minute, metric);
      else {
        dropDeviceMinute.run(minute, deviceId, metric);
        cold.read([{ fromMs: minute * MINUTE_MS, toMs: (minute + 1) * MINUTE_MS, deviceId, metric }], (names) =>
          deviceMinute(names).run(minute, deviceId, metric),
        );
        metricMinute.run(minute, metric);
      }
      markSeries(Math.floor(minute / HOUR_MINUTES), deviceId, metric);
    },
    /**
     * Derives the hour and day rows of up to `limit` dirty hours before `beforeHour`, with their
     * counts above each of `thresholds`.
     */
    compact: (beforeHour: number, limit: number, thresholds: readonly number[] = []): number =>
      compact(beforeHour, limit, thresholds),
    /**
     * Every minute that has raw readings again from them, a day per transaction; older minutes
     * (their readings removed by retention) keep their rollups. Then compaction derives the rest.
     */
    rebuild(thresholds: readonly number[]): { minutes: number } {
      const { first, last } = rawSpan.get() as { first: number | null; last: number | null };
      if (first === null || last === null) return { minutes: 0 };
      const spans = daySpans(first, last);
      for (const { from, to } of spans) rebuildSpan(from, to);
      while (compact(Number.MAX_SAFE_INTEGER, 100, thresholds) > 0);
      return { minutes: (spans.at(-1)?.to ?? 0) - (spans[0]?.from ?? 0) };
    },
    /** A step of compressed days before `beforeMs` giving up device minute rows (raw-minutes.ts): whether done. */
    dropDeviceMinutesBefore: (beforeMs: number, limit: number): boolean =>
      rawMinutes.dropCompressedBefore(beforeMs, limit),
    /** Before retention removes raw readings before `beforeMs`: their days keep device minute rows again. */
    keepDeviceMinutesBefore: (beforeMs: number): void => rawMinutes.keepBefore(beforeMs),
    /** Removes up to `limit` rollup rows that start before `beforeMinute` (a day boundary). */
    removeBefore(beforeMinute: number, limit: number): number {
      let removed = 0;
      for (const level of [1, HOUR_MINUTES, DAY_MINUTES]) {
        for (const remover of removers) {
          if (removed < limit) removed += remover.run(level, beforeMinute, limit - removed).changes;
        }
      }
      return removed;
    },
  };
}
