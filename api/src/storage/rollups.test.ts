import { describe, expect, it } from 'bun:test';
import { DAY_MINUTES, HOUR_MINUTES, MAX_SEGMENTS, MINUTE_MS, type Segment, planSegments } from './rollups.ts';

const HOUR_MS = HOUR_MINUTES * MINUTE_MS;
const BASE_HOUR = Math.floor(Date.UTC(2026, 0, 1) / HOUR_MS);

/** A segment's span in ms. */
const spanMs = (segment: Segment) =>
  (segment.level === 0 ? [segment.from, segment.to] : [segment.from * MINUTE_MS, segment.to * MINUTE_MS]) as [
    number,
    number,
  ];

/** The window, cut: every ms of it in exactly one segment, and each dirty hour read from minute rows or finer. */
function expectExactCut(segments: Segment[], fromMs: number, toMs: number, dirtyHours: number[]) {
  const spans = segments.map(spanMs).sort((a, b) => a[0] - b[0]);
  expect(spans[0]?.[0]).toBe(fromMs);
  expect(spans.at(-1)?.[1]).toBe(toMs);
  for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBe(spans[i - 1]?.[1] as number);
  for (const segment of segments) {
    if (segment.level > 1) expect(segment.from % segment.level).toBe(0);
    if (segment.level > 1) expect(segment.to % segment.level).toBe(0);
  }
  for (const hour of dirtyHours) {
    const [start, end] = [hour * HOUR_MS, (hour + 1) * HOUR_MS];
    if (start < fromMs || end > toMs) continue;
    const coarse = segments.filter(
      (segment) => segment.level > 1 && spanMs(segment)[0] < end && spanMs(segment)[1] > start,
    );
    expect(coarse).toEqual([]);
  }
}

describe('planSegments', () => {
  it('reads whole days from day rows, partial days from hours, partial hours from minutes, partial minutes raw', () => {
    const fromMs = BASE_HOUR * HOUR_MS + 90_500;
    const toMs = (BASE_HOUR + 3 * 24 + 5) * HOUR_MS + 30_000;
    const segments = planSegments(fromMs, toMs, []);
    expectExactCut(segments, fromMs, toMs, []);
    expect(segments.filter((segment) => segment.level === DAY_MINUTES).length).toBe(1);
    expect(segments.length).toBeLessThanOrEqual(7);
  });

  it('reads dirty hours next to each other as one piece of minute rows', () => {
    const dirty = Array.from({ length: 500 }, (_, i) => BASE_HOUR + 10 + i);
    const [fromMs, toMs] = [BASE_HOUR * HOUR_MS, (BASE_HOUR + 1_000) * HOUR_MS];
    const segments = planSegments(fromMs, toMs, dirty);
    expectExactCut(segments, fromMs, toMs, dirty);
    expect(segments.filter((segment) => segment.level === 1)).toEqual([
      { level: 1, from: (BASE_HOUR + 10) * HOUR_MINUTES, to: (BASE_HOUR + 510) * HOUR_MINUTES },
    ]);
  });

  it('stays within MAX_SEGMENTS when every other hour is dirty, and exact', () => {
    // A backfill of a device that reports every two hours, before compaction has caught up.
    const dirty = Array.from({ length: 600 }, (_, i) => BASE_HOUR + 5 + 2 * i);
    const [fromMs, toMs] = [BASE_HOUR * HOUR_MS - 1_234, (BASE_HOUR + 1_300) * HOUR_MS + 4_321];
    const segments = planSegments(fromMs, toMs, dirty);
    expect(segments.length).toBeLessThanOrEqual(MAX_SEGMENTS);
    expectExactCut(segments, fromMs, toMs, dirty);
    // A few scattered dirty hours still read everything else from the coarsest rows.
    const few = [BASE_HOUR + 30, BASE_HOUR + 200, BASE_HOUR + 900];
    const fewSegments = planSegments(fromMs, toMs, few);
    expectExactCut(fewSegments, fromMs, toMs, few);
    expect(
      fewSegments
        .filter((segment) => segment.level === 1)
        .reduce((minutes, segment) => minutes + segment.to - segment.from, 0),
    ).toBeLessThan(3 * HOUR_MINUTES + 60);
  });
});
