/**
 * Rollups: what /stats reads instead of raw readings. Both backends keep the same three tables
 * (see the migrations):
 * - `rollups_device` (level, start_minute, device_id, metric, count, sum, min, max): one row per
 *   device, metric and minute, written in the transaction that stores the readings;
 * - `rollups_metric` (level, metric, start_minute, …): the same for all devices together, so that
 *   a window over every device reads one row per minute, not one per device;
 * - `rollup_dirty` (hour): hours whose minute rows changed since their hour and day rows were
 *   derived. Hours and days (levels 60 and 1440) are derived from the minutes by compaction
 *   (`compactRollups`) once an hour has passed; until then, and after any late reading, PATCH or
 *   DELETE, the hour is read at minute level — so every answer is exact. SQLite also lists, for
 *   an hour only late readings or edits changed, which devices and metrics did
 *   (`rollup_dirty_series`), and derives those alone (see sqlite/rollups.ts).
 * Levels are in minutes and `start_minute` is epoch minutes (ms / 60,000), aligned to the level.
 */

import { MINUTE_MS } from './minutes.ts';

export { MINUTE_MS };
export const HOUR_MINUTES = 60;
export const DAY_MINUTES = 1_440;
export type Level = 1 | 60 | 1_440;

/** Raw readings in [from, to) ms (level 0), or rows of a level with start_minute in [from, to). */
export interface Segment {
  level: 0 | Level;
  from: number;
  to: number;
}

/** The widest window: JavaScript's date range, which is whole days. */
export const ALL_TIME = { fromMs: -8.64e15, toMs: 8.64e15 };

/**
 * Pieces a window is read in at most: each is a SELECT of one UNION ALL (SQLite allows 500 of
 * them, and PostgreSQL plans each), and carries its parameters.
 */
export const MAX_SEGMENTS = 64;

/**
 * Cuts [fromMs, toMs) into disjoint pieces, each read from the coarsest source that is exact for
 * it: raw readings for partial minutes, minute rows for partial hours and for hours not compacted
 * yet (`dirtyHours`, ascending), hour rows for partial days and days that hold a dirty hour, day
 * rows for the rest. `coarsest` caps the level (a series by the hour reads no day rows). Dirty
 * hours next to each other are read as one piece; where they lie scattered (a backfill of every
 * other hour, before compaction has caught up) in more pieces than MAX_SEGMENTS, everything from
 * the window's first dirty hour to its last is read at minute level: exact still, in a few pieces.
 */
export function planSegments(
  fromMs: number,
  toMs: number,
  dirtyHours: readonly number[],
  coarsest: Level = DAY_MINUTES,
): Segment[] {
  const runs = dirtyRuns(dirtyHours);
  const segments = cutWindow(fromMs, toMs, runs, coarsest);
  if (segments.length <= MAX_SEGMENTS) return segments;
  const inWindow = runs.filter(
    (run) => run.end * HOUR_MINUTES * MINUTE_MS > fromMs && run.start * HOUR_MINUTES * MINUTE_MS < toMs,
  );
  const [first, last] = [inWindow[0], inWindow.at(-1)];
  return first && last ? cutWindow(fromMs, toMs, [{ start: first.start, end: last.end }], coarsest) : segments;
}

/** Dirty hours as runs of consecutive hours, [start, end). */
function dirtyRuns(hours: readonly number[]): Array<{ start: number; end: number }> {
  const runs: Array<{ start: number; end: number }> = [];
  for (const hour of hours) {
    const last = runs.at(-1);
    if (last && hour <= last.end) last.end = Math.max(last.end, hour + 1);
    else runs.push({ start: hour, end: hour + 1 });
  }
  return runs;
}

/** The window's pieces around runs of dirty hours (ascending, [start, end) in hours). */
function cutWindow(
  fromMs: number,
  toMs: number,
  dirtyRuns: ReadonlyArray<{ start: number; end: number }>,
  coarsest: Level,
): Segment[] {
  const segments: Segment[] = [];
  if (toMs <= fromMs) return segments;
  const push = (level: Segment['level'], from: number, to: number) => {
    if (from < to) segments.push({ level, from, to });
  };
  const firstMinute = Math.ceil(fromMs / MINUTE_MS);
  const endMinute = Math.floor(toMs / MINUTE_MS);
  if (firstMinute >= endMinute) {
    push(0, fromMs, toMs);
    return segments;
  }
  push(0, fromMs, firstMinute * MINUTE_MS);
  push(0, endMinute * MINUTE_MS, toMs);

  const days = (fromHour: number, toHour: number) => {
    const firstDay = Math.ceil((fromHour * HOUR_MINUTES) / DAY_MINUTES);
    const endDay = Math.floor((toHour * HOUR_MINUTES) / DAY_MINUTES);
    if (coarsest < DAY_MINUTES || firstDay >= endDay) {
      push(HOUR_MINUTES, fromHour * HOUR_MINUTES, toHour * HOUR_MINUTES);
      return;
    }
    push(HOUR_MINUTES, fromHour * HOUR_MINUTES, firstDay * DAY_MINUTES);
    push(DAY_MINUTES, firstDay * DAY_MINUTES, endDay * DAY_MINUTES);
    push(HOUR_MINUTES, endDay * DAY_MINUTES, toHour * HOUR_MINUTES);
  };

  const firstHour = Math.ceil(firstMinute / HOUR_MINUTES);
  const endHour = Math.floor(endMinute / HOUR_MINUTES);
  if (coarsest === 1 || firstHour >= endHour) {
    push(1, firstMinute, endMinute);
    return segments;
  }
  push(1, firstMinute, firstHour * HOUR_MINUTES);
  push(1, endHour * HOUR_MINUTES, endMinute);
  let cursor = firstHour;
  for (const run of dirtyRuns) {
    const start = Math.max(run.start, cursor);
    const end = Math.min(run.end, endHour);
    if (start >= end) continue;
    days(cursor, start);
    push(1, start * HOUR_MINUTES, end * HOUR_MINUTES);
    cursor = end;
  }
  days(cursor, endHour);
  return segments;
}

/**
 * A device source's segments where some days keep no device minute rows (`rawMinuteDays`,
 * ascending: SQLite's compressed days): the minute pieces inside those days read raw readings
 * instead (level 0, in ms), split at the days' bounds. Hours and days are unchanged.
 */
export function withRawMinutes(segments: readonly Segment[], rawMinuteDays: readonly number[]): Segment[] {
  if (rawMinuteDays.length === 0) return [...segments];
  const raw = new Set(rawMinuteDays);
  const out: Segment[] = [];
  for (const segment of segments) {
    if (segment.level !== 1) {
      out.push({ ...segment });
      continue;
    }
    for (let from = segment.from; from < segment.to; ) {
      const day = Math.floor(from / DAY_MINUTES);
      const to = Math.min(segment.to, (day + 1) * DAY_MINUTES);
      const last = out.at(-1);
      const level = raw.has(day) ? 0 : 1;
      const [start, end] = level === 0 ? [from * MINUTE_MS, to * MINUTE_MS] : [from, to];
      // Pieces of one kind next to each other stay one segment.
      if (last && last.level === level && last.to === start) last.to = end;
      else out.push({ level, from: start, to: end });
      from = to;
    }
  }
  return out;
}

/** One (device or all devices, metric, minute) row of a batch. */
export interface MinuteRollup {
  minute: number;
  deviceId: string;
  metric: string;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * The minute rows a batch of stored readings adds: per device, and for all devices (deviceId
 * `*`, which no device can have — names never hold `*`).
 */
export function minuteRollups(rows: Iterable<{ deviceId: string; metric: string; value: number; ts: number }>): {
  devices: MinuteRollup[];
  metrics: MinuteRollup[];
  hours: number[];
} {
  const devices = new Map<string, MinuteRollup>();
  const metrics = new Map<string, MinuteRollup>();
  const hours = new Set<number>();
  const add = (
    into: Map<string, MinuteRollup>,
    key: string,
    minute: number,
    deviceId: string,
    metric: string,
    value: number,
  ) => {
    const found = into.get(key);
    if (!found) {
      into.set(key, { minute, deviceId, metric, count: 1, sum: value, min: value, max: value });
      return;
    }
    found.count += 1;
    found.sum += value;
    if (value < found.min) found.min = value;
    if (value > found.max) found.max = value;
  };
  for (const row of rows) {
    const minute = Math.floor(row.ts / MINUTE_MS);
    add(devices, `${minute}\u0000${row.deviceId}\u0000${row.metric}`, minute, row.deviceId, row.metric, row.value);
    add(metrics, `${minute}\u0000${row.metric}`, minute, ALL_DEVICES, row.metric, row.value);
    hours.add(Math.floor(minute / HOUR_MINUTES));
  }
  return { devices: [...devices.values()], metrics: [...metrics.values()], hours: [...hours] };
}

/**
 * Distinct values of a metric an hour or day keeps counts of (rollup_values) at most: past it, the
 * span keeps none and /stats counts that span's values no more (it says so).
 */
export const MAX_DISTINCT_VALUES = 1_000;

/**
 * The minutes from the one holding `firstTs` to the one holding `lastTs`, as spans of at most a
 * UTC day ([from, to) in epoch minutes): a rebuild works a day per transaction.
 */
export function daySpans(firstTs: number, lastTs: number): Array<{ from: number; to: number }> {
  const endMinute = Math.floor(lastTs / MINUTE_MS) + 1;
  const spans = [];
  for (let from = Math.floor(firstTs / MINUTE_MS); from < endMinute; ) {
    const to = Math.min(endMinute, (Math.floor(from / DAY_MINUTES) + 1) * DAY_MINUTES);
    spans.push({ from, to });
    from = to;
  }
  return spans;
}

/** The device id of the all-devices rows. */
export const ALL_DEVICES = '*';
