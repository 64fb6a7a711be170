import type { ReadingFilter } from './port.ts';
import type { Aggregate, RollupReader, RollupSource } from './rollup-stats.ts';
import { MINUTE_MS } from './rollups.ts';

type Param = string | number;
type ParamType = 'int' | 'float' | 'text';

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
   * The table to read raw readings' times and values from when no name is needed: SQLite's
   * `readings` is a view joining names to its compact rows, three lookups a row for nothing (and
   * min(ts) over it visits every row instead of the index's first).
   */
  rawTable: string;
}

export const SQLITE_DIALECT: Dialect = { param: (n) => `?${n}`, num: (expression) => expression, greatest: 'max', indexedBy: (index) => `INDEXED BY ${index}`, rawTable: 'reading_rows' };
export const POSTGRES_DIALECT: Dialect = {
  param: (n, type) => `$${n}::${type === 'int' ? 'bigint' : type === 'float' ? 'float8' : 'text'}`,
  num: (expression) => `(${expression})::float8`,
  greatest: 'greatest',
  indexedBy: () => '',
  rawTable: 'readings',
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
    (source.deviceId !== undefined && (raw || source.kind === 'device') ? ` AND device_id = ${p.add(source.deviceId, 'text')}` : '') +
    (devices !== undefined ? ` AND device_id IN (${devices.map((id) => p.add(id, 'text')).join(', ')})` : '') +
    (source.metric !== undefined ? ` AND metric = ${p.add(source.metric, 'text')}` : '');
  // A few devices' rows are found by the device index, not among every device's by time.
  const table = source.kind === 'device' ? `rollups_device${devices === undefined ? '' : ` ${p.dialect.indexedBy('rollups_device_by_device')}`}` : 'rollups_metric';
  const device = source.kind === 'device' ? 'device_id' : "'*' AS device_id";
  const parts = source.segments.map((segment) =>
    segment.level === 0
      ? `SELECT 0 AS level, ts / ${MINUTE_MS} AS start_minute, device_id, metric, 1 AS count, value AS sum, value AS min, value AS max FROM readings WHERE ts >= ${p.add(segment.from, 'int')} AND ts < ${p.add(segment.to, 'int')}${filters(true)}`
      : `SELECT level, start_minute, ${device}, metric, count, sum, min, max FROM ${table} WHERE level = ${p.add(segment.level, 'int')} AND start_minute >= ${p.add(segment.from, 'int')} AND start_minute < ${p.add(segment.to, 'int')}${filters(false)}`,
  );
  if (parts.length === 0) parts.push("SELECT 0 AS level, 0 AS start_minute, '' AS device_id, '' AS metric, 0 AS count, 0.0 AS sum, 0.0 AS min, 0.0 AS max WHERE 1 = 0");
  return parts.join('\nUNION ALL\n');
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
export function sqlRollupReader(dialect: Dialect, run: (sql: string, params: Param[]) => Promise<Array<Record<string, unknown>>>): RollupReader {
  const { num } = dialect;
  const query = async <T>(build: (p: Params) => string): Promise<T[]> => {
    const p = new Params(dialect);
    const text = build(p);
    return (await run(text, p.values)) as T[];
  };
  return {
    async dirtyHours() {
      return (await query<{ hour: number }>(() => `SELECT ${num('hour')} AS hour FROM rollup_dirty ORDER BY hour`)).map((row) => row.hour);
    },
    async totals(source) {
      const [row] = await query<Record<string, number | null>>(
        (p) =>
          `SELECT ${num('sum(count)')} AS count, ${num('sum(sum)')} AS sum, ${num('min(min)')} AS min, ${num('max(max)')} AS max, ${num('min(start_minute)')} AS first,
                  ${num(`max(start_minute + ${dialect.greatest}(level, 1)) - 1`)} AS last FROM (${sourceSql(source, p)}) src`,
      );
      return { count: row?.count ?? 0, sum: row?.sum ?? 0, min: row?.min ?? 0, max: row?.max ?? 0, first: row?.first ?? null, last: row?.last ?? null };
    },
    async buckets(source, minutes) {
      return query<{ bucket: number; count: number; sum: number; min: number; max: number }>(
        (p) =>
          `SELECT ${num(`start_minute / ${minutes}`)} AS bucket, ${num('sum(count)')} AS count, ${num('sum(sum)')} AS sum, ${num('min(min)')} AS min, ${num('max(max)')} AS max
           FROM (${sourceSql(source, p)}) src GROUP BY start_minute / ${minutes}`,
      );
    },
    async devices(source, page) {
      // One pass over the source: the devices grouped once, the page and the total both from them
      // (a second count(DISTINCT) scan had cost as much as the page itself).
      const rows = await query<{ part: number; deviceId: string | null; count: number; sum: number; min: number; max: number }>(
        (p) =>
          `WITH grouped AS MATERIALIZED (
             SELECT device_id, ${num('sum(count)')} AS count, ${num('sum(sum)')} AS sum, ${num('min(min)')} AS min, ${num('max(max)')} AS max
             FROM (${sourceSql(source, p)}) src GROUP BY device_id
           ),
           shown AS (SELECT * FROM grouped WHERE device_id > ${p.add(page.after ?? '', 'text')} ORDER BY device_id LIMIT ${p.add(page.limit + 1, 'int')})
           SELECT 1 AS part, device_id AS "deviceId", count, sum, min, max FROM shown
           UNION ALL
           SELECT 0 AS part, NULL AS "deviceId", ${num('count(*)')} AS count, 0, 0, 0 FROM grouped
           ORDER BY part, "deviceId"`,
      );
      const [counted, ...shown] = rows;
      return { rows: shown.map(({ part: _, ...row }) => row as Aggregate & { deviceId: string }), total: counted?.count ?? 0 };
    },
    async overThreshold(source, deviceIds, threshold) {
      const rows = await query<{ deviceId: string; over: number }>((p) => {
        const from = sourceSql(source, p, deviceIds);
        const t = p.add(threshold, 'float');
        // Materialized once, CROSS JOIN where the order matters (SQLite takes its left side as
        // the outer loop: left to itself, it scanned every minute row and probed these), and the
        // minutes of a straddling row found by device (by time alone, SQLite read every device's).
        // An hour or day row that straddles the threshold takes its count above it from
        // rollup_over when compaction worked it out for this threshold; else its minutes are opened.
        return `WITH src AS MATERIALIZED (SELECT * FROM (${from}) s),
          known AS MATERIALIZED (
            SELECT c.device_id, c.metric, c.level, c.start_minute, o.above FROM src c CROSS JOIN rollup_over o
            WHERE c.level > 1 AND c.min <= ${t} AND c.max > ${t}
              AND o.level = c.level AND o.start_minute = c.start_minute AND o.device_id = c.device_id AND o.metric = c.metric AND o.threshold = ${t}
          ),
          straddling AS MATERIALIZED (
            SELECT device_id, metric, start_minute, count, min, max FROM src WHERE level = 1 AND min <= ${t} AND max > ${t}
            UNION ALL
            SELECT m.device_id, m.metric, m.start_minute, m.count, m.min, m.max FROM src c CROSS JOIN rollups_device m ${dialect.indexedBy('rollups_device_by_device')}
            WHERE c.level > 1 AND c.min <= ${t} AND c.max > ${t}
              AND NOT EXISTS (SELECT 1 FROM known k WHERE k.device_id = c.device_id AND k.metric = c.metric AND k.level = c.level AND k.start_minute = c.start_minute)
              AND m.device_id = c.device_id AND m.level = 1 AND m.start_minute >= c.start_minute AND m.start_minute < c.start_minute + c.level AND m.metric = c.metric
          )
          SELECT device_id AS "deviceId", ${num('sum(n)')} AS over FROM (
            SELECT device_id, count AS n FROM src WHERE min > ${t}
            UNION ALL
            SELECT device_id, above AS n FROM known
            UNION ALL
            SELECT device_id, count AS n FROM straddling WHERE min > ${t}
            UNION ALL
            SELECT r.device_id, 1 AS n FROM straddling x CROSS JOIN readings r
            WHERE x.min <= ${t} AND x.max > ${t}
              AND r.device_id = x.device_id AND r.ts >= x.start_minute * ${MINUTE_MS} AND r.ts < (x.start_minute + 1) * ${MINUTE_MS} AND r.metric = x.metric AND r.value > ${t}
          ) counted GROUP BY device_id`;
      });
      return new Map(rows.map((row) => [row.deviceId, row.over]));
    },
    async mostFrequent(filter, limit) {
      return query<{ value: number; frequency: number }>(
        (p) => `SELECT value, ${num('count(*)')} AS frequency FROM readings WHERE ${rawWhere(filter, p)} GROUP BY value ORDER BY frequency DESC, value ASC LIMIT ${p.add(limit, 'int')}`,
      );
    },
    async valueCounts(source, limit) {
      const coarse = source.segments.filter((segment) => segment.level >= 60);
      const fine = source.segments.filter((segment) => segment.level < 60);
      const metric = (p: Params) => (source.metric === undefined ? '' : ` AND metric = ${p.add(source.metric, 'text')}`);
      const spans = (p: Params) => coarse.map((segment) => `(level = ${p.add(segment.level, 'int')} AND start_minute >= ${p.add(segment.from, 'int')} AND start_minute < ${p.add(segment.to, 'int')})`).join(' OR ') || '1 = 0';
      const [counted] = await query<{ readings: number; counted: number }>(
        (p) =>
          `SELECT (SELECT ${num('coalesce(sum(count), 0)')} FROM rollups_metric WHERE (${spans(p)})${metric(p)}) AS readings,
                  (SELECT ${num('coalesce(sum(count), 0)')} FROM rollup_values WHERE (${spans(p)})${metric(p)}) AS counted`,
      );
      const rows = await query<{ value: number; frequency: number }>((p) => {
        const raw = fine
          .map((segment) => {
            const scale = segment.level === 0 ? 1 : MINUTE_MS;
            return `(ts >= ${p.add(segment.from * scale, 'int')} AND ts < ${p.add(segment.to * scale, 'int')})`;
          })
          .join(' OR ') || '1 = 0';
        return `SELECT value, ${num('sum(count)')} AS frequency FROM (
            SELECT value, count FROM rollup_values WHERE (${spans(p)})${metric(p)}
            UNION ALL
            SELECT value, 1 AS count FROM ${source.metric === undefined ? dialect.rawTable : 'readings'} WHERE (${raw})${metric(p)}
          ) counted GROUP BY value ORDER BY frequency DESC, value ASC LIMIT ${p.add(limit, 'int')}`;
      });
      return { rows, coarseReadings: counted?.readings ?? 0, coarseCounted: counted?.counted ?? 0 };
    },
    async rawCompleteFrom() {
      const [raw] = await query<{ ts: number | null }>(() => `SELECT ${num('min(ts)')} AS ts FROM ${dialect.rawTable}`);
      const [rolled] = await query<{ minute: number | null }>(() => `SELECT ${num('min(start_minute)')} AS minute FROM rollups_metric WHERE level = 1`);
      if (rolled?.minute == null) return -Infinity;
      if (raw?.ts == null) return Infinity;
      const rawMinute = Math.floor(raw.ts / MINUTE_MS);
      return rolled.minute < rawMinute ? rawMinute * MINUTE_MS : -Infinity;
    },
  };
}
