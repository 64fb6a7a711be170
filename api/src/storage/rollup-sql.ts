import type { DevicePage, ReadingFilter } from './port.ts';
import type { Aggregate, RollupReader, RollupSource } from './rollup-stats.ts';
import { DAY_MINUTES, MINUTE_MS, type Segment } from './rollups.ts';

export type Param = string | number;
type ParamType = 'int' | 'float' | 'text';

/** A window of raw readings a statement reads: times (`toMs` exclusive), and a device or metric. */
export type RawRange = ReadingFilter & { fromMs: number; toMs: number };

/** The names a statement reads raw readings by (see Dialect.raw). */
export interface RawNames {
  /** device_id, metric (names), value, ts. */
  readings: string;
  /** value, ts, and metric as the backend keeps it: the cheapest for times and values alone. */
  rows: string;
}

/**
 * Where a statement reads raw readings: the windows, and for /stats' devices the minutes it
 * opens (a statement of its own, on rollups only, listing device_id, metric and start_minute). A
 * backend that keeps some readings elsewhere than its tables of rows (SQLite's compressed chunks)
 * makes them visible for these before running the statement.
 */
export interface RawRequest {
  ranges: RawRange[];
  /** Run only where the backend keeps readings of `window` elsewhere than in rows. */
  opened?: { sql: string; params: Param[]; window: RawRange };
}

// In a statement's text until the backend names them (namedRaw).
const RAW_READINGS = '«raw readings»';
const RAW_ROWS = '«raw rows»';

/** A statement's text with the names of raw readings the backend reads them by. */
export function namedRaw(sql: string, names: RawNames): string {
  return sql.replaceAll(RAW_READINGS, names.readings).replaceAll(RAW_ROWS, names.rows);
}

/** Far enough to stand for "no bound" on a time (the greatest a Date holds). */
const NO_TIME = 8.64e15;

/** How the two backends' SQL differs where /stats reads rollups. */
export interface Dialect {
  /** The n-th parameter (1-based), typed where the backend needs it to pick an index. */
  param(n: number, type: ParamType): string;
  /** An aggregate as a double: PostgreSQL sums integers to `numeric`, which arrives as a string. */
  num(expression: string): string;
  /** The larger of two values (not the aggregate). */
  greatest: 'max' | 'greatest';
  /** Where SQLite's planner needs telling which index (PostgreSQL's finds it). */
  indexedBy(index: string): string;
  /**
   * Where raw readings are read, as RawNames: `rows` is the table to read their times and values
   * from when no name is needed — SQLite's `readings` is a view joining names to its compact
   * rows, three lookups a row for nothing.
   */
  raw: RawNames;
  /** The oldest raw reading's time (`ts`, null when none), wherever the backend keeps it. */
  oldestRawSql: string;
  /**
   * Every device id there is, as a common table expression `device_names(id)` (it may hold other
   * names too), and a statement counting them (`n`). Where a window holds many readings per
   * device, its devices are found by trying each of these ids against the device index — a seek
   * per id and segment — instead of grouping every row of the window (a sort or hash of all of
   * them: 36–49 ms over the 80,000 rows of a 30-day window of 1,000 devices on SQLite, ~4 ms
   * walked; on PostgreSQL, 20M readings, ~50 ms against ~10).
   */
  deviceNames: { cte: string; count: string };
  /**
   * PostgreSQL: a page of devices' counts above a threshold are read by the rollup_over index by
   * device (a range per device and segment) and hashed, not looked up row by row.
   */
  overByDevice: boolean;
  /**
   * Days (`day`) whose device minute rows are not kept, read from raw readings instead (SQLite's
   * compressed days); null where every day keeps them.
   */
  rawMinuteDaysSql: string | null;
}

/** A window holding at least this many readings per device has its devices walked, not grouped. */
export const WALK_READINGS_PER_DEVICE = 10;

export const SQLITE_DIALECT: Dialect = {
  param: (n) => `?${n}`,
  num: (expression) => expression,
  greatest: 'max',
  indexedBy: (index) => `INDEXED BY ${index}`,
  raw: { readings: 'readings', rows: 'reading_rows' },
  // Its compressed chunks too (min(ts) over the view would visit every row, not the index's first).
  oldestRawSql: `SELECT min(ts) AS ts FROM (SELECT min(ts) AS ts FROM reading_rows
    UNION ALL SELECT min(first_ts) FROM reading_chunks WHERE day = (SELECT min(day) FROM reading_chunks))`,
  // Metrics and units are names too: they are tried and found in no device's rows.
  deviceNames: { cte: 'device_names(id) AS (SELECT name FROM names)', count: 'SELECT count(*) AS n FROM names' },
  overByDevice: false,
  rawMinuteDaysSql: 'SELECT day FROM device_minute_days WHERE from_raw = 1',
};
export const POSTGRES_DIALECT: Dialect = {
  param: (n, type) => `$${n}::${type === 'int' ? 'bigint' : type === 'float' ? 'float8' : 'text'}`,
  num: (expression) => `(${expression})::float8`,
  greatest: 'greatest',
  indexedBy: () => '',
  raw: { readings: 'readings', rows: 'readings' },
  oldestRawSql: 'SELECT min(ts)::float8 AS ts FROM readings',
  deviceNames: {
    cte: 'device_names(id) AS (SELECT device_id FROM devices)',
    count: 'SELECT count(*)::float8 AS n FROM devices',
  },
  overByDevice: true,
  rawMinuteDaysSql: null,
};

/** Parameters and their placeholders, numbered as they are added. */
class Params {
  readonly values: Param[] = [];
  constructor(readonly dialect: Dialect) {}
  add(value: Param, type: ParamType): string {
    this.values.push(value);
    return this.dialect.param(this.values.length, type);
  }
}

/**
 * A source as one SELECT of (level, start_minute, device_id, metric, count, sum, min, max): a
 * UNION ALL of its segments, each a range of one level's key (raw readings for level 0) — of
 * `devices` only, when given (each segment then reads those devices' rows by the device index).
 */
function sourceSql(source: RollupSource, p: Params, devices?: readonly string[]): string {
  const filters = (raw: boolean) =>
    (source.deviceId !== undefined && (raw || source.kind === 'device')
      ? ` AND device_id = ${p.add(source.deviceId, 'text')}`
      : '') +
    (devices !== undefined ? ` AND device_id IN (${devices.map((id) => p.add(id, 'text')).join(', ')})` : '') +
    (source.metric !== undefined ? ` AND metric = ${p.add(source.metric, 'text')}` : '');
  // A few devices' rows are found by the device index, not among every device's by time.
  const table =
    source.kind === 'device'
      ? `rollups_device${devices === undefined ? '' : ` ${p.dialect.indexedBy('rollups_device_by_device')}`}`
      : 'rollups_metric';
  const device = source.kind === 'device' ? 'device_id' : "'*' AS device_id";
  const parts = source.segments.map((segment) =>
    segment.level === 0
      ? `SELECT 0 AS level, ts / ${MINUTE_MS} AS start_minute, device_id, metric, 1 AS count, value AS sum, value AS min, value AS max FROM ${RAW_READINGS} WHERE ts >= ${p.add(segment.from, 'int')} AND ts < ${p.add(segment.to, 'int')}${filters(true)}`
      : `SELECT level, start_minute, ${device}, metric, count, sum, min, max FROM ${table} WHERE level = ${p.add(segment.level, 'int')} AND start_minute >= ${p.add(segment.from, 'int')} AND start_minute < ${p.add(segment.to, 'int')}${filters(false)}`,
  );
  if (parts.length === 0)
    parts.push(
      "SELECT 0 AS level, 0 AS start_minute, '' AS device_id, '' AS metric, 0 AS count, 0.0 AS sum, 0.0 AS min, 0.0 AS max WHERE 1 = 0",
    );
  return parts.join('\nUNION ALL\n');
}

/**
 * The raw windows a source reads: its segments of raw readings (level 0, in ms) and, with
 * `minutes`, of minute rows too (level 1, whose minutes /stats may open), for each of `devices`
 * when given.
 */
function rawRanges(source: RollupSource, devices?: readonly string[], minutes = false): RawRange[] {
  const ranges: RawRange[] = [];
  for (const segment of source.segments) {
    if (segment.level > (minutes ? 1 : 0)) continue;
    const scale = segment.level === 0 ? 1 : MINUTE_MS;
    for (const deviceId of devices ?? [source.deviceId])
      ranges.push({ fromMs: segment.from * scale, toMs: segment.to * scale, deviceId, metric: source.metric });
  }
  return ranges;
}

/** The times a source's segments cover, from the first one's start to the last one's end. */
function windowOf(source: RollupSource): RawRange {
  const ms = (segment: Segment, at: number) => (segment.level === 0 ? at : at * MINUTE_MS);
  return {
    fromMs: Math.min(NO_TIME, ...source.segments.map((segment) => ms(segment, segment.from))),
    toMs: Math.max(-NO_TIME, ...source.segments.map((segment) => ms(segment, segment.to))),
  };
}

/** Rollup segments as one condition on level and start_minute (`1 = 0` for none). */
function levelRanges(segments: readonly Segment[], p: Params): string {
  return (
    segments
      .map(
        (segment) =>
          `(level = ${p.add(segment.level, 'int')} AND start_minute >= ${p.add(segment.from, 'int')} AND start_minute < ${p.add(segment.to, 'int')})`,
      )
      .join(' OR ') || '1 = 0'
  );
}

/** The filter as a WHERE clause on raw readings. */
function rawWhere(filter: ReadingFilter, p: Params): string {
  const clauses = ['1 = 1'];
  if (filter.deviceId !== undefined) clauses.push(`device_id = ${p.add(filter.deviceId, 'text')}`);
  if (filter.metric !== undefined) clauses.push(`metric = ${p.add(filter.metric, 'text')}`);
  if (filter.fromMs !== undefined) clauses.push(`ts >= ${p.add(filter.fromMs, 'int')}`);
  if (filter.toMs !== undefined) clauses.push(`ts < ${p.add(filter.toMs, 'int')}`);
  return clauses.join(' AND ');
}

/**
 * The rollup reads of /stats in SQL, for either backend: `run` executes one statement with its
 * parameters and answers its rows.
 */
export function sqlRollupReader(
  dialect: Dialect,
  run: (sql: string, params: Param[], raw?: RawRequest) => Promise<Array<Record<string, unknown>>>,
  /** Tests set it to 0 or Infinity to take one way of finding a window's devices. */
  walkReadingsPerDevice = WALK_READINGS_PER_DEVICE,
): RollupReader {
  const { num } = dialect;
  const query = async <T>(build: (p: Params) => string, raw?: RawRequest): Promise<T[]> => {
    const p = new Params(dialect);
    const text = build(p);
    return (await run(text, p.values, raw)) as T[];
  };
  /**
   * A source's devices found one device at a time, as a statement's `WITH` clause and the SELECT
   * that finds them: each id of `device_names` (after `after`, up to `limit` of them, in order,
   * when given) kept when a seek into any of the window's segments (by the device index,
   * coarsest first) finds a row of it, with the devices that have raw readings in the window's
   * partial minutes. Cost: a few seeks per id tried, never a sort of the whole window.
   */
  const walked = (source: RollupSource, p: Params, after?: string, limit?: number) => {
    const rolled = source.segments.filter((segment) => segment.level > 0).sort((a, b) => b.level - a.level);
    const raw = source.segments.filter((segment) => segment.level === 0);
    const index = dialect.indexedBy('rollups_device_by_device');
    const spans = rolled
      .map((segment) => `(${p.add(segment.level, 'int')}, ${p.add(segment.from, 'int')}, ${p.add(segment.to, 'int')})`)
      .join(', ');
    const metric = (alias: string) =>
      source.metric === undefined ? '' : ` AND ${alias}metric = ${p.add(source.metric, 'text')}`;
    const from = (column: string) => (after === undefined ? '' : ` AND ${column} > ${p.add(after, 'text')}`);
    const first = (select: string) =>
      limit === undefined ? select : `SELECT * FROM (${select} ORDER BY 1 LIMIT ${p.add(limit, 'int')}) walked_ids`;
    const found = [
      rolled.length === 0
        ? ''
        : first(`SELECT id FROM device_names named WHERE 1 = 1${from('named.id')} AND EXISTS (
             SELECT 1 FROM spans s CROSS JOIN rollups_device AS r ${index}
             WHERE r.device_id = named.id AND r.level = s.level AND r.start_minute >= s.f AND r.start_minute < s.t${metric('r.')})`),
      // Named `id` as the walked ones are: alone (a window within one minute, or one whose days
      // keep no device minutes) it names the column, and DISTINCT makes it a device's once.
      raw.length === 0
        ? ''
        : `SELECT DISTINCT device_id AS id FROM ${RAW_READINGS} WHERE (${raw.map((segment) => `(ts >= ${p.add(segment.from, 'int')} AND ts < ${p.add(segment.to, 'int')})`).join(' OR ')})${metric('')}${from('device_id')}`,
    ].filter(Boolean);
    return {
      with: `WITH RECURSIVE
        ${dialect.deviceNames.cte},
        spans(level, f, t) AS (${rolled.length === 0 ? 'SELECT 0, 0, 0 WHERE 1 = 0' : `VALUES ${spans}`})`,
      select: found.length === 0 ? "SELECT '' AS id WHERE 1 = 0" : found.join('\nUNION\n'),
    };
  };
  /** Whether a source's devices are walked (many readings per device) or grouped from its rows. */
  const walks = async (source: RollupSource, readings: number) => {
    if (source.deviceId !== undefined || readings === 0) return false;
    const [names] = await query<{ n: number }>(() => dialect.deviceNames.count);
    return readings >= walkReadingsPerDevice * (names?.n ?? 0);
  };

  return {
    async dirtyHours() {
      return (await query<{ hour: number }>(() => `SELECT ${num('hour')} AS hour FROM rollup_dirty ORDER BY hour`)).map(
        (row) => row.hour,
      );
    },
    async rawMinuteDays() {
      if (dialect.rawMinuteDaysSql === null) return [];
      const rows = await query<{ day: number }>(() => `${dialect.rawMinuteDaysSql} ORDER BY day`);
      return rows.map((row) => row.day);
    },
    async totals(source) {
      const [row] = await query<Record<string, number | null>>(
        (p) =>
          `SELECT ${num('sum(count)')} AS count, ${num('sum(sum)')} AS sum, ${num('min(min)')} AS min, ${num('max(max)')} AS max, ${num('min(start_minute)')} AS first,
                  ${num(`max(start_minute + ${dialect.greatest}(level, 1)) - 1`)} AS last FROM (${sourceSql(source, p)}) src`,
        { ranges: rawRanges(source) },
      );
      return {
        count: row?.count ?? 0,
        sum: row?.sum ?? 0,
        min: row?.min ?? 0,
        max: row?.max ?? 0,
        first: row?.first ?? null,
        last: row?.last ?? null,
      };
    },
    async buckets(source, minutes) {
      return query<{ bucket: number; count: number; sum: number; min: number; max: number }>(
        (p) =>
          `SELECT ${num(`start_minute / ${minutes}`)} AS bucket, ${num('sum(count)')} AS count, ${num('sum(sum)')} AS sum, ${num('min(min)')} AS min, ${num('max(max)')} AS max
           FROM (${sourceSql(source, p)}) src GROUP BY start_minute / ${minutes}`,
        { ranges: rawRanges(source) },
      );
    },
    async devicePage(source, page, readings) {
      const after = page.after ?? '';
      const rows = (await walks(source, readings))
        ? await query<{ id: string }>(
            (p) => {
              const { with: prefix, select } = walked(source, p, after, page.limit + 1);
              return `${prefix} SELECT id FROM (${select}) found ORDER BY id LIMIT ${p.add(page.limit + 1, 'int')}`;
            },
            { ranges: rawRanges(source) },
          )
        : await query<{ id: string }>(
            (p) =>
              `SELECT device_id AS id FROM (${sourceSql(source, p)}) src WHERE device_id > ${p.add(after, 'text')} GROUP BY device_id ORDER BY device_id LIMIT ${p.add(page.limit + 1, 'int')}`,
            { ranges: rawRanges(source) },
          );
      return rows.map((row) => row.id);
    },
    async deviceCount(source, readings) {
      const [row] = (await walks(source, readings))
        ? await query<{ n: number }>(
            (p) => {
              const { with: prefix, select } = walked(source, p);
              return `${prefix} SELECT ${num('count(*)')} AS n FROM (${select}) found`;
            },
            { ranges: rawRanges(source) },
          )
        : await query<{ n: number }>(
            (p) =>
              `SELECT ${num('count(*)')} AS n FROM (SELECT device_id FROM (${sourceSql(source, p)}) src GROUP BY device_id) grouped`,
            { ranges: rawRanges(source) },
          );
      return row?.n ?? 0;
    },
    async deviceRows(source, deviceIds, threshold) {
      /** The statement's common table expressions, then `select` of them (given the threshold's placeholder). */
      const build = (p: Params, select: (t: string) => string) => {
        const from = sourceSql(source, p, deviceIds);
        const t = p.add(threshold, 'float');
        // One pass over the devices' rows gives their aggregates and, for each row, its count
        // above the threshold where that is known: all of it (wholly above), none (wholly below),
        // or, for an hour or day row that straddles it, rollup_over's count when compaction worked
        // it out for this threshold (LEFT JOIN: the row is the outer loop, a lookup each). What
        // stays unknown is opened: an hour or day into its minutes (found by device: by time
        // alone, SQLite read every device's), a straddling minute into its raw readings.
        // Materialized once; CROSS JOIN where SQLite must take the left side as the outer loop.
        // Where the dialect says so, the page's rollup_over rows are read first, a range per
        // device and segment, and joined by hashing (PostgreSQL: 7,500 lookups took ~10 ms).
        const coarse = source.segments.filter((segment) => segment.level > 1);
        // An hour or day of a day without device minute rows is not opened into them (some may
        // be left while they are removed, out of date): its raw readings are counted whole.
        const [rawSpans, minuteSpans] =
          dialect.rawMinuteDaysSql === null
            ? ['', '']
            : [
                ` AND start_minute / ${DAY_MINUTES} IN (${dialect.rawMinuteDaysSql})`,
                ` AND c.start_minute / ${DAY_MINUTES} NOT IN (${dialect.rawMinuteDaysSql})`,
              ];
        const over = dialect.overByDevice
          ? `(SELECT * FROM rollup_over WHERE device_id IN (${deviceIds.map((id) => p.add(id, 'text')).join(', ')}) AND threshold = ${t}
              AND (${levelRanges(coarse, p)}))`
          : 'rollup_over';
        return `WITH src AS MATERIALIZED (SELECT * FROM (${from}) s),
          classified AS MATERIALIZED (
            SELECT c.device_id, c.metric, c.level, c.start_minute, c.count, c.sum, c.min, c.max,
                   CASE WHEN c.min > ${t} THEN c.count WHEN c.max <= ${t} THEN 0 ELSE o.above END AS above
            FROM src c LEFT JOIN ${over} o
              ON c.level > 1 AND c.min <= ${t} AND c.max > ${t}
              AND o.level = c.level AND o.start_minute = c.start_minute AND o.device_id = c.device_id AND o.metric = c.metric AND o.threshold = ${t}
          ),
          opened AS MATERIALIZED (
            SELECT m.device_id, m.metric, m.start_minute, m.count, m.min, m.max FROM classified c CROSS JOIN rollups_device m ${dialect.indexedBy('rollups_device_by_device')}
            WHERE c.above IS NULL AND c.level > 1${minuteSpans}
              AND m.device_id = c.device_id AND m.level = 1 AND m.start_minute >= c.start_minute AND m.start_minute < c.start_minute + c.level AND m.metric = c.metric
          ),
          straddling AS MATERIALIZED (
            SELECT device_id, metric, start_minute, 1 AS minutes FROM classified WHERE above IS NULL AND level = 1
            UNION ALL
            SELECT device_id, metric, start_minute, 1 FROM opened WHERE min <= ${t} AND max > ${t}${
              rawSpans === ''
                ? ''
                : `
            UNION ALL
            SELECT device_id, metric, start_minute, level FROM classified WHERE above IS NULL AND level > 1${rawSpans}`
            }
          )
          ${select(t)}`;
      };
      // What is counted from raw readings — the straddling minutes, of hours and days opened or
      // of the window's partial hours, and the hours and days counted whole — made visible to it.
      const opened = new Params(dialect);
      const openedSql = build(opened, () => 'SELECT device_id, metric, start_minute, minutes FROM straddling');
      return query<Aggregate & { deviceId: string; over: number }>(
        (p) =>
          build(
            p,
            (
              t,
            ) => `SELECT device_id AS "deviceId", ${num('sum(count)')} AS count, ${num('sum(sum)')} AS sum, ${num('min(min)')} AS min, ${num('max(max)')} AS max, ${num('sum(n)')} AS over FROM (
            SELECT device_id, count, sum, min, max, coalesce(above, 0) AS n FROM classified
            UNION ALL
            SELECT device_id, 0, 0, NULL, NULL, count FROM opened WHERE min > ${t}
            UNION ALL
            SELECT r.device_id, 0, 0, NULL, NULL, 1 FROM straddling x CROSS JOIN ${RAW_READINGS} r
            WHERE r.device_id = x.device_id AND r.ts >= x.start_minute * ${MINUTE_MS} AND r.ts < (x.start_minute + x.minutes) * ${MINUTE_MS} AND r.metric = x.metric AND r.value > ${t}
          ) counted GROUP BY device_id ORDER BY device_id`,
          ),
        {
          ranges: rawRanges(source, deviceIds, true),
          opened: { sql: openedSql, params: opened.values, window: windowOf(source) },
        },
      );
    },
    async mostFrequent(filter, limit) {
      return query<{ value: number; frequency: number }>(
        (p) =>
          `SELECT value, ${num('count(*)')} AS frequency FROM ${RAW_READINGS} WHERE ${rawWhere(filter, p)} GROUP BY value ORDER BY frequency DESC, value ASC LIMIT ${p.add(limit, 'int')}`,
        { ranges: [{ ...filter, fromMs: filter.fromMs ?? -NO_TIME, toMs: filter.toMs ?? NO_TIME }] },
      );
    },
    async valueCounts(source, limit) {
      const coarse = source.segments.filter((segment) => segment.level >= 60);
      const fine = source.segments.filter((segment) => segment.level < 60);
      const metric = (p: Params) =>
        source.metric === undefined ? '' : ` AND metric = ${p.add(source.metric, 'text')}`;
      const spans = (p: Params) => levelRanges(coarse, p);
      const [counted] = await query<{ readings: number; counted: number }>(
        (p) =>
          `SELECT (SELECT ${num('coalesce(sum(count), 0)')} FROM rollups_metric WHERE (${spans(p)})${metric(p)}) AS readings,
                  (SELECT ${num('coalesce(sum(count), 0)')} FROM rollup_values WHERE (${spans(p)})${metric(p)}) AS counted`,
      );
      const rows = await query<{ value: number; frequency: number }>(
        (p) => {
          const raw =
            fine
              .map((segment) => {
                const scale = segment.level === 0 ? 1 : MINUTE_MS;
                return `(ts >= ${p.add(segment.from * scale, 'int')} AND ts < ${p.add(segment.to * scale, 'int')})`;
              })
              .join(' OR ') || '1 = 0';
          return `SELECT value, ${num('sum(count)')} AS frequency FROM (
            SELECT value, count FROM rollup_values WHERE (${spans(p)})${metric(p)}
            UNION ALL
            SELECT value, 1 AS count FROM ${source.metric === undefined ? RAW_ROWS : RAW_READINGS} WHERE (${raw})${metric(p)}
          ) counted GROUP BY value ORDER BY frequency DESC, value ASC LIMIT ${p.add(limit, 'int')}`;
        },
        { ranges: rawRanges({ ...source, segments: fine }, undefined, true) },
      );
      return { rows, coarseReadings: counted?.readings ?? 0, coarseCounted: counted?.counted ?? 0 };
    },
    async rawCompleteFrom() {
      const [raw] = await query<{ ts: number | null }>(() => dialect.oldestRawSql);
      const [rolled] = await query<{ minute: number | null }>(
        () => `SELECT ${num('min(start_minute)')} AS minute FROM rollups_metric WHERE level = 1`,
      );
      if (rolled?.minute == null) return -Infinity;
      if (raw?.ts == null) return Infinity;
      const rawMinute = Math.floor(raw.ts / MINUTE_MS);
      return rolled.minute < rawMinute ? rawMinute * MINUTE_MS : -Infinity;
    },
  };
}
