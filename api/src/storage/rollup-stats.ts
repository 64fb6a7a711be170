import { BUCKETS, type Bucket, bucketSeries, bucketWindow, minuteSeries, minuteWindow } from './minutes.ts';
import { type DevicePage, MAX_MODE_TIES, type ReadingFilter, type Stats } from './port.ts';
import {
  ALL_TIME,
  DAY_MINUTES,
  type Level,
  MAX_DISTINCT_VALUES,
  MINUTE_MS,
  type Segment,
  planSegments,
  withRawMinutes,
} from './rollups.ts';

/**
 * Raw readings the most frequent value is counted over at most (a GROUP BY over them stays
 * within ~50 ms): all of a device's window, or the partial hours at the edges of a window over all
 * devices, whose whole hours and days have value counts (rollup_values). Past it, where
 * retention removed the raw readings needed, or where a span had too many distinct values to
 * keep counts of, the answer says it was skipped and why.
 */
export const MODE_MAX_READINGS = 100_000;

/** Where a /stats query reads: rollups per device, or of all devices per metric, plus raw edges. */
export interface RollupSource {
  kind: 'device' | 'metric';
  segments: Segment[];
  deviceId?: string;
  metric?: string;
}

export interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** What a backend answers from its rollup tables; `statsFromRollups` makes /stats of it. */
export interface RollupReader {
  /** Hours not compacted yet: read at minute level. */
  dirtyHours(): Promise<number[]>;
  /** Days (ascending) that keep no device minute rows: a device source reads raw readings there instead. */
  rawMinuteDays(): Promise<number[]>;
  /** The source's totals, with its first and last minute (null when empty). */
  totals(source: RollupSource): Promise<Aggregate & { first: number | null; last: number | null }>;
  /** The source grouped by `start_minute / minutes` (the source's levels never exceed it). */
  buckets(source: RollupSource, minutes: number): Promise<Array<Aggregate & { bucket: number }>>;
  /**
   * One page of a device source's device ids, in order (up to `page.limit + 1`, which tells there
   * are more); `readings`, how many readings the source holds, picks how the devices are found.
   */
  devicePage(source: RollupSource, page: DevicePage, readings: number): Promise<string[]>;
  /** How many devices a device source holds; `readings` picks how they are found, as above. */
  deviceCount(source: RollupSource, readings: number): Promise<number>;
  /**
   * Those devices' aggregates, by device id, with their readings above `threshold`: rows wholly
   * above count whole, rows wholly below not at all, and rows that straddle it are opened — an
   * hour or day into its minutes, a minute into its raw readings.
   */
  deviceRows(
    source: RollupSource,
    deviceIds: readonly string[],
    threshold: number,
  ): Promise<Array<Aggregate & { deviceId: string; over: number }>>;
  /** The most frequent values of the raw readings that match, up to `limit`. */
  mostFrequent(filter: ReadingFilter, limit: number): Promise<Array<{ value: number; frequency: number }>>;
  /**
   * The most frequent values of a metric source (all devices), up to `limit`: its hour and day
   * segments from their value counts, the rest from raw readings; with how many readings those
   * hour and day segments hold and how many of them their value counts cover.
   */
  valueCounts(
    source: RollupSource,
    limit: number,
  ): Promise<{ rows: Array<{ value: number; frequency: number }>; coarseReadings: number; coarseCounted: number }>;
  /**
   * From when raw readings are all there (epoch ms): the oldest raw reading's minute once
   * retention has removed older ones, else -Infinity.
   */
  rawCompleteFrom(): Promise<number>;
}

/** The page of devices of /stats. */
export type StatsDevicePart = Pick<Stats, 'perDevice' | 'perDeviceTruncated'>;
/** The rest of /stats: totals, series, the most frequent value, how many devices in all. */
export type StatsSummaryPart = Omit<Stats, keyof StatsDevicePart>;

/**
 * /stats, the same on every backend, from rollups and the raw readings of partial minutes: its two
 * parts, which share no statement, run side by side (on two reader threads or connections, where
 * the backend has them: a 30-day window of 1,000 devices answers in the time of the longer one).
 * How many devices the window holds is counted with the summary, not with the page: the page's
 * devices' rows are the longest read, and the parts come out about even.
 */
export async function statsFromRollups(
  reader: RollupReader,
  filter: ReadingFilter,
  threshold: number,
  devices: DevicePage,
  asked?: Bucket,
): Promise<Stats> {
  const [summary, page] = await Promise.all([
    statsSummary(reader, filter, threshold, asked),
    statsDevices(reader, filter, threshold, devices),
  ]);
  return { ...summary, ...page };
}

/**
 * Where a window reads, for a filter: its sources at any level, over [from, toMs) — a device
 * source reading raw readings where its days keep no minute rows — and `between`, a source
 * between two minutes.
 */
async function plan(reader: RollupReader, filter: ReadingFilter) {
  const [dirty, rawMinuteDays] = await Promise.all([reader.dirtyHours(), reader.rawMinuteDays()]);
  const fromMs = filter.fromMs ?? ALL_TIME.fromMs;
  const toMs = filter.toMs ?? ALL_TIME.toMs;
  const kind: RollupSource['kind'] = filter.deviceId === undefined ? 'metric' : 'device';
  const over = (from: number, to: number, coarsest: Level | undefined, as: RollupSource['kind']): RollupSource => {
    const segments = planSegments(from, to, dirty, coarsest);
    return {
      kind: as,
      segments: as === 'device' ? withRawMinutes(segments, rawMinuteDays) : segments,
      deviceId: filter.deviceId,
      metric: filter.metric,
    };
  };
  const source = (from: number, coarsest?: Level, as: RollupSource['kind'] = kind) => over(from, toMs, coarsest, as);
  const between = (fromMinute: number, toMinute: number) => over(fromMinute * MINUTE_MS, toMinute * MINUTE_MS, 1, kind);
  return { dirty, fromMs, kind, source, between };
}

/** /stats but its page of devices. */
export async function statsSummary(
  reader: RollupReader,
  filter: ReadingFilter,
  threshold: number,
  asked?: Bucket,
): Promise<StatsSummaryPart> {
  const { dirty, fromMs, source, between } = await plan(reader, filter);
  const totals = await reader.totals(source(fromMs));
  const perDeviceTotal =
    totals.count === 0 ? 0 : await reader.deviceCount(source(fromMs, undefined, 'device'), totals.count);
  const { firstTs, lastTs } = await edges(reader, filter, totals, between);

  const minutes = minuteWindow(filter, firstTs, lastTs);
  const perMinute = minutes
    ? new Map(
        (await reader.buckets(source(Math.max(fromMs, minutes.firstMinute * MINUTE_MS), 1), 1)).map((row) => [
          row.bucket,
          row.count,
        ]),
      )
    : new Map<number, number>();

  const window = bucketWindow(filter, firstTs, lastTs, asked);
  let series = bucketSeries(undefined, []);
  if (window) {
    const size = BUCKETS[window.bucket];
    const rows = await reader.buckets(
      source(Math.max(fromMs, window.first * size), (size / MINUTE_MS) as Level),
      size / MINUTE_MS,
    );
    series = bucketSeries(
      window,
      rows.map((row) => ({
        bucket: row.bucket,
        count: row.count,
        min: row.min,
        max: row.max,
        mean: row.sum / row.count,
      })),
    );
  }

  const rawFrom = await reader.rawCompleteFrom();
  const rawComplete = fromMs >= rawFrom;
  return {
    count: totals.count,
    min: totals.count === 0 ? null : totals.min,
    max: totals.count === 0 ? null : totals.max,
    mean: totals.count === 0 ? null : totals.sum / totals.count,
    mostFrequent:
      filter.deviceId === undefined
        ? await mostFrequentOfAll(reader, filter, totals.count, dirty, rawFrom)
        : await mostFrequent(reader, filter, totals.count, rawComplete),
    ...minuteSeries(minutes, perMinute),
    series,
    threshold,
    overThresholdExact: rawComplete,
    perDeviceTotal,
  };
}

/** /stats's page of devices. */
export async function statsDevices(
  reader: RollupReader,
  filter: ReadingFilter,
  threshold: number,
  devices: DevicePage,
): Promise<StatsDevicePart> {
  const { fromMs, source } = await plan(reader, filter);
  const { count } = await reader.totals(source(fromMs));
  const perDevice = source(fromMs, undefined, 'device');
  const ids = await reader.devicePage(perDevice, devices, count);
  const shownIds = ids.slice(0, devices.limit);
  const shown = shownIds.length === 0 ? [] : await reader.deviceRows(perDevice, shownIds, threshold);
  return {
    perDevice: shown.map((row) => ({
      deviceId: row.deviceId,
      count: row.count,
      min: row.min,
      max: row.max,
      mean: row.sum / row.count,
      overThreshold: row.over,
    })),
    perDeviceTruncated: ids.length > devices.limit,
  };
}

/**
 * The first and last reading's minute, where the filter leaves the window open: the totals give
 * them to the level of the row that held them (a day row gives its day), and one more read at
 * minute level within that row finds the minute.
 */
async function edges(
  reader: RollupReader,
  filter: ReadingFilter,
  totals: { first: number | null; last: number | null },
  between: (fromMinute: number, toMinute: number) => RollupSource,
) {
  if (totals.first === null || totals.last === null) return { firstTs: null, lastTs: null };
  const within = async (fromMinute: number, toMinute: number) => reader.totals(between(fromMinute, toMinute));
  const first =
    filter.fromMs === undefined
      ? ((await within(totals.first, totals.first + DAY_MINUTES)).first ?? totals.first)
      : totals.first;
  const last =
    filter.toMs === undefined
      ? ((await within(totals.last - DAY_MINUTES + 1, totals.last + 1)).last ?? totals.last)
      : totals.last;
  return { firstTs: first * MINUTE_MS, lastTs: last * MINUTE_MS };
}

const skipped = (reason: string): Stats['mostFrequent'] => ({
  values: [],
  count: 0,
  truncated: false,
  skipped: reason,
});

/** The values tied for most frequent, from values ranked by frequency (one more than listed). */
function ranked(rows: ReadonlyArray<{ value: number; frequency: number }>): Stats['mostFrequent'] {
  const top = rows[0]?.frequency ?? 0;
  const tied = rows.filter((row) => row.frequency === top);
  return {
    values: tied.slice(0, MAX_MODE_TIES).map((row) => row.value),
    count: top,
    truncated: tied.length > MAX_MODE_TIES,
  };
}

/** Of one device (or a filter naming one): its raw readings. */
async function mostFrequent(
  reader: RollupReader,
  filter: ReadingFilter,
  count: number,
  rawComplete: boolean,
): Promise<Stats['mostFrequent']> {
  if (count === 0) return { values: [], count: 0, truncated: false };
  if (count > MODE_MAX_READINGS) {
    return skipped(
      `the window holds ${count} readings; the most frequent value is counted over at most ${MODE_MAX_READINGS} (narrow the window or name a device)`,
    );
  }
  if (!rawComplete)
    return skipped(
      'the window starts before the oldest raw reading kept (RETAIN_RAW_DAYS): the values of older readings are gone',
    );
  return ranked(await reader.mostFrequent(filter, MAX_MODE_TIES + 1));
}

/** Over all devices: whole hours and days from their value counts, the edges from raw readings. */
async function mostFrequentOfAll(
  reader: RollupReader,
  filter: ReadingFilter,
  count: number,
  dirty: number[],
  rawFrom: number,
): Promise<Stats['mostFrequent']> {
  if (count === 0) return { values: [], count: 0, truncated: false };
  const segments = planSegments(filter.fromMs ?? ALL_TIME.fromMs, filter.toMs ?? ALL_TIME.toMs, dirty);
  const fine = segments.filter((segment) => segment.level < 60);
  const fineCount =
    fine.length === 0 ? 0 : (await reader.totals({ kind: 'metric', segments: fine, metric: filter.metric })).count;
  if (fineCount > MODE_MAX_READINGS) {
    return skipped(
      `the window's partial and latest hours hold ${fineCount} readings; the most frequent value counts at most ${MODE_MAX_READINGS} raw readings (widen the window to whole hours, or name a device)`,
    );
  }
  if (fine.some((segment) => (segment.level === 0 ? segment.from : segment.from * MINUTE_MS) < rawFrom)) {
    return skipped('the window needs raw readings older than the oldest kept (RETAIN_RAW_DAYS): their values are gone');
  }
  const { rows, coarseReadings, coarseCounted } = await reader.valueCounts(
    { kind: 'metric', segments, metric: filter.metric },
    MAX_MODE_TIES + 1,
  );
  if (coarseCounted !== coarseReadings) {
    return skipped(
      `an hour or day of the window had more than ${MAX_DISTINCT_VALUES} distinct values of a metric: values are not counted there`,
    );
  }
  return ranked(rows);
}
