import type { TopLevelSpec } from 'vega-lite';
import type { Summary } from './summary.ts';

const FONT = 'DejaVu Sans, Arial, sans-serif';
const config = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 15 },
};
/** Bars drawn at most; more distinct values are grouped into this many bins for the picture. */
const MAX_BARS = 120;
const MAX_DEVICES = 40;

export interface ChartSpec {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/**
 * The value distribution, most frequent value(s) highlighted. Bars sit on a numeric axis, each
 * spanning its value (or its bin), so the axis shows a few round numbers rather than one label per
 * bar (a label per bar overlapped its neighbours past a few dozen).
 */
function distribution(summary: Summary, counts: ReadonlyArray<[number, number]>): ChartSpec {
  const modes = new Set(summary.mostFrequent.values);
  // Distinct values: each bar 80% of the smallest gap between two values, centred on its value.
  let gap = Infinity;
  for (let i = 1; i < counts.length; i++) gap = Math.min(gap, (counts[i]?.[0] ?? 0) - (counts[i - 1]?.[0] ?? 0));
  const half = (Number.isFinite(gap) && gap > 0 ? gap : 1) * 0.4;
  let bars = counts.map(([value, count]) => ({
    label: String(value),
    start: value - half,
    end: value + half,
    count,
    mostFrequent: modes.has(value),
  }));
  if (bars.length > MAX_BARS) {
    const [low, high] = [counts[0]?.[0] ?? 0, counts.at(-1)?.[0] ?? 0];
    const width = (high - low) / MAX_BARS || 1;
    const bins = new Map<number, { count: number; mostFrequent: boolean }>();
    for (const [value, count] of counts) {
      const bin = Math.min(MAX_BARS - 1, Math.floor((value - low) / width));
      const slot = bins.get(bin) ?? { count: 0, mostFrequent: false };
      slot.count += count;
      slot.mostFrequent ||= modes.has(value);
      bins.set(bin, slot);
    }
    bars = [...bins.entries()].map(([bin, slot]) => {
      const [start, end] = [low + bin * width, low + (bin + 1) * width];
      return { label: `${start.toPrecision(4)}–${end.toPrecision(4)}`, start, end, ...slot };
    });
  }
  // The legend names the two kinds of bar (a boolean field made it read "true" and "false").
  const marked = bars.map(({ mostFrequent, ...bar }) => ({ ...bar, kind: mostFrequent ? 'most frequent' : 'other' }));
  const title = `Value distribution (most frequent: ${summary.mostFrequent.values.slice(0, 5).join(', ') || 'none'})`;
  return {
    name: 'value-distribution',
    title,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title,
      width: 640,
      height: 280,
      config,
      data: { values: marked },
      mark: 'bar',
      encoding: {
        x: { field: 'start', type: 'quantitative', title: 'Value', scale: { zero: false, nice: false } },
        x2: { field: 'end' },
        y: { field: 'count', type: 'quantitative', title: 'Readings' },
        y2: { datum: 0 },
        tooltip: [
          { field: 'label', title: 'Value' },
          { field: 'count', title: 'Readings' },
        ],
        color: {
          field: 'kind',
          type: 'nominal',
          title: 'Values',
          scale: { domain: ['most frequent', 'other'], range: ['#d62728', '#4c78a8'] },
        },
      },
    },
  };
}

/** `Minute (UTC)`, `Hour (UTC)`, `Day (UTC)`: the time axis's title for the series' bucket. */
const bucketAxis = (summary: Summary) =>
  `${summary.overTime.bucket[0]?.toUpperCase()}${summary.overTime.bucket.slice(1)} (UTC)`;

function perBucket(summary: Summary): ChartSpec {
  const { bucket, points } = summary.overTime;
  const title = `Readings per ${bucket}`;
  return {
    name: 'readings-over-time',
    title,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title,
      width: 640,
      height: 240,
      config,
      data: { values: points.map(({ start, count }) => ({ start, count })) },
      mark: { type: 'line', point: points.length <= 120 },
      encoding: {
        x: { field: 'start', type: 'temporal', title: bucketAxis(summary) },
        y: { field: 'count', type: 'quantitative', title: 'Readings' },
      },
    },
  };
}

function perDevice(summary: Summary): ChartSpec {
  const top = [...summary.perDevice].sort((a, b) => b.count - a.count).slice(0, MAX_DEVICES);
  const rows = top.flatMap((device) => [
    { deviceId: device.deviceId, part: `at or below ${summary.threshold}`, count: device.count - device.overThreshold },
    { deviceId: device.deviceId, part: `over ${summary.threshold}`, count: device.overThreshold },
  ]);
  const title =
    summary.perDevice.length > MAX_DEVICES
      ? `Readings per device (top ${MAX_DEVICES} of ${summary.perDevice.length})`
      : 'Readings per device';
  return {
    name: 'per-device',
    title,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title,
      width: 640,
      height: { step: 16 },
      config,
      data: { values: rows },
      mark: 'bar',
      encoding: {
        y: { field: 'deviceId', type: 'nominal', sort: '-x', title: 'Device' },
        x: { field: 'count', type: 'quantitative', stack: 'zero', title: 'Readings' },
        color: { field: 'part', type: 'nominal', title: 'Value', scale: { range: ['#4c78a8', '#d62728'] } },
      },
    },
  };
}

function valuesOverTime(summary: Summary): ChartSpec {
  // Buckets with readings, and the first empty bucket of each gap: its nulls break the line and
  // the band there (Vega-Lite's default for invalid values), so no line is drawn across a gap.
  const minutes = summary.overTime.points.filter((m, i, all) => m.count > 0 || (i > 0 && (all[i - 1]?.count ?? 0) > 0));
  const title = `Values over time (per-${summary.overTime.bucket} mean, min–max band, threshold ${summary.threshold})`;
  return {
    name: 'values-over-time',
    title,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title,
      width: 640,
      height: 260,
      config,
      layer: [
        {
          data: { values: minutes },
          mark: { type: 'area', opacity: 0.25, color: '#4c78a8' },
          encoding: {
            x: { field: 'start', type: 'temporal', title: bucketAxis(summary) },
            y: { field: 'min', type: 'quantitative', title: 'Value' },
            y2: { field: 'max' },
          },
        },
        {
          data: { values: minutes },
          mark: { type: 'line', color: '#4c78a8' },
          encoding: { x: { field: 'start', type: 'temporal' }, y: { field: 'mean', type: 'quantitative' } },
        },
        {
          data: { values: [{ threshold: summary.threshold, label: `threshold ${summary.threshold}` }] },
          mark: { type: 'rule', color: '#d62728', strokeDash: [6, 4], strokeWidth: 2 },
          encoding: { y: { field: 'threshold', type: 'quantitative' } },
        },
      ],
    },
  };
}

/** The four charts of the report, as Vega-Lite specs. `counts` are the value counts, sorted. */
export function chartSpecs(summary: Summary, counts: ReadonlyArray<[number, number]>): ChartSpec[] {
  return [distribution(summary, counts), perBucket(summary), perDevice(summary), valuesOverTime(summary)];
}
