import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startService, useRedis, waitFor } from 'core/testing';
import { parseOptions } from './options.ts';
import { decodePng } from './png-check.ts';
import { findFont, renderPng } from './render.ts';
import { runAnalysis } from './run.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'analysis-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const at = (minute: number, second: number) => new Date(Date.UTC(2026, 10, 22, 10, minute, second)).toISOString();

/**
 * Hand-made: 10:00 100 × 20 (device-a); 10:01 nothing; 10:02 100 × 30 (device-b);
 * 10:03 50 × 40 (device-a) and 50 × 60 (device-b); and three bad lines.
 */
function fixtureCsv(): string {
  const lines = ['id,deviceId,metric,value,unit,ts,storedAt'];
  const add = (id: string, device: string, value: number | string, ts: string) =>
    lines.push(`${id},${device},kwh,${value},kWh,${ts},${ts}`);
  for (let i = 0; i < 100; i++) add(`a${i}`, 'device-a', 20, at(0, i % 60));
  lines.push('broken,device-a,kwh,abc,kWh,2026-11-22T10:00:30.000Z,x'); // line 102
  for (let i = 0; i < 100; i++) add(`b${i}`, 'device-b', 30, at(2, i % 60));
  lines.push('short,line'); // line 203
  for (let i = 0; i < 50; i++) add(`c${i}`, 'device-a', 40, at(3, i));
  for (let i = 0; i < 50; i++) add(`d${i}`, 'device-b', 60, at(3, i));
  lines.push('late,device-b,kwh,1,kWh,yesterday,x'); // line 304
  return `${lines.join('\n')}\n`;
}

async function analyse(flags: string[], env: Record<string, string> = {}) {
  return runAnalysis(parseOptions(flags, env));
}

describe('analysis of a CSV file', () => {
  it('computes the hand-computed summary exactly', async () => {
    const input = join(dir, 'fixture.csv');
    await writeFile(input, fixtureCsv());
    const out = join(dir, 'fixture-report');
    const { summary } = await analyse(['--input', input, '--out', out, '--skip-charts']);
    const written = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(written.count).toBe(300);
    expect(summary).toMatchObject({
      count: 300,
      min: 20,
      max: 60,
      p50: 30,
      p95: 60,
      p99: 60,
      mostFrequent: { values: [20, 30], count: 100 },
      counting: { method: 'exact', distinctValues: 4, bucketWidth: null },
      badRows: 3,
      badRowSamples: [
        { line: 102, error: 'value is not a finite number: "abc"' },
        { line: 203, error: 'expected 7 columns, found 2' },
        { line: 304, error: 'ts is not a time: "yesterday"' },
      ],
    });
    expect(summary.mean).toBeCloseTo(100 / 3, 10);
    // E[x²] = 1300, so the variance is 1300 − (100/3)².
    expect(summary.stdDev).toBeCloseTo(Math.sqrt(1300 - (100 / 3) ** 2), 10);
    expect(summary.overTime.bucket).toBe('minute');
    expect(summary.timeOutliers).toBeNull();
    expect(summary.overTime.points.map((m) => [m.start.slice(11, 16), m.count])).toEqual([
      ['10:00', 100],
      ['10:01', 0],
      ['10:02', 100],
      ['10:03', 100],
    ]);
    expect(summary.perDevice).toEqual([
      { deviceId: 'device-a', count: 150, mean: 4_000 / 150, overThreshold: 0, overThresholdShare: 0 },
      { deviceId: 'device-b', count: 150, mean: 6_000 / 150, overThreshold: 50, overThresholdShare: 50 / 150 },
    ]);
  });

  it('copies the data to readings.csv with cells a spreadsheet would run as formulas neutralised', async () => {
    const input = join(dir, 'formulas.csv');
    const rows = [
      'id,deviceId,metric,value,unit,ts,storedAt',
      `f1,device-a,kwh,-3.5,"=cmd|' /C calc'!A0",${at(0, 1)},${at(0, 1)}`,
      `f2,device-a,kwh,4,@SUM(A1),${at(0, 2)},${at(0, 2)}`,
      `f3,device-a,kwh,5,kWh,${at(0, 3)},${at(0, 3)}`,
    ];
    await writeFile(input, `${rows.join('\n')}\n`);
    const out = join(dir, 'formulas-report');
    await analyse(['--input', input, '--out', out, '--skip-charts', '--copy']);
    const copied = (await readFile(join(out, 'readings.csv'), 'utf8')).trim().split('\n');
    expect(copied).toEqual([
      rows[0] as string,
      `f1,device-a,kwh,-3.5,'=cmd|' /C calc'!A0,${at(0, 1)},${at(0, 1)}`,
      `f2,device-a,kwh,4,'@SUM(A1),${at(0, 2)},${at(0, 2)}`,
      rows[3] as string,
    ]);
  });

  it('applies --from/--to/--device/--metric filters, with zero minutes across the window', async () => {
    const input = join(dir, 'filters.csv');
    await writeFile(input, fixtureCsv());
    const { summary } = await analyse([
      '--input',
      input,
      '--out',
      join(dir, 'filters'),
      '--skip-charts',
      '--device',
      'device-b',
      '--from',
      at(1, 0),
      '--to',
      at(5, 0),
      '--threshold',
      '59',
    ]);
    expect(summary.count).toBe(150);
    expect(summary.overTime.points.map((m) => m.count)).toEqual([0, 100, 50, 0]);
    expect(summary.perDevice).toEqual([
      { deviceId: 'device-b', count: 150, mean: 40, overThreshold: 50, overThresholdShare: 50 / 150 },
    ]);
  });

  it('buckets when distinct values explode, and says so', async () => {
    const lines = ['deviceId,metric,value,ts'];
    for (let i = 0; i < 150_000; i++) lines.push(`d,m,${i / 7},${1_700_000_000_000 + i}`);
    const input = join(dir, 'many.csv');
    await writeFile(input, lines.join('\n'));
    const result = await analyse(['--input', input, '--out', join(dir, 'many'), '--skip-charts']);
    expect(result.summary.counting.method).toBe('bucketed');
    expect(result.summary.counting.distinctValues).toBeLessThanOrEqual(100_000);
    expect(result.notes.join(' ')).toContain('counted in buckets');
    expect(result.summary.count).toBe(150_000);
  });

  it('one stray reading a year before the rest: named, left out of the series, which stays small; a week of data goes by the hour', async () => {
    const start = Date.UTC(2026, 10, 22, 10, 0, 0);
    const lines = ['deviceId,metric,value,ts', `old,kwh,5,${new Date(start - 365 * 86_400_000).toISOString()}`];
    for (let i = 0; i < 6_000; i++) lines.push(`d-${i % 5},kwh,${i % 40},${new Date(start + i * 1_000).toISOString()}`);
    const input = join(dir, 'stray.csv');
    await writeFile(input, lines.join('\n'));
    const result = await analyse(['--input', input, '--out', join(dir, 'stray'), '--skip-charts']);
    expect(result.summary.count).toBe(6_001);
    expect(result.summary.timeOutliers).toEqual({
      count: 1,
      earliest: '2025-11-22T10:00:00.000Z',
      latest: '2025-11-22T10:00:00.000Z',
    });
    expect(result.summary.overTime.bucket).toBe('minute');
    expect(result.summary.overTime.points).toHaveLength(100);
    expect(result.notes.join(' ')).toContain('1 reading far in time from the rest (2025-11-22T10:00:00.000Z)');
    expect((await readFile(join(dir, 'stray', 'summary.json'))).length).toBeLessThan(100_000);

    const week = ['deviceId,metric,value,ts'];
    for (let i = 0; i < 7 * 24 * 4; i++)
      week.push(`d,kwh,${i % 40},${new Date(start + i * 15 * 60_000).toISOString()}`);
    await writeFile(join(dir, 'week.csv'), week.join('\n'));
    const weekly = await analyse(['--input', join(dir, 'week.csv'), '--out', join(dir, 'week'), '--skip-charts']);
    expect(weekly.summary.overTime.bucket).toBe('hour');
    expect(weekly.summary.overTime.points).toHaveLength(7 * 24);
    expect(weekly.summary.timeOutliers).toBeNull();
  });

  it('with several metrics: each one’s summary, charts and report in a folder of its own, linked from the report of all', async () => {
    const start = Date.UTC(2026, 10, 22, 10, 0, 0);
    const lines = ['deviceId,metric,value,unit,ts'];
    for (let i = 0; i < 200; i++)
      lines.push(`pump-${i % 2},kwh,${30 + (i % 5)},kWh,${new Date(start + i * 1_000).toISOString()}`);
    for (let i = 0; i < 100; i++)
      lines.push(`pump-0,temp °C,${20 + (i % 3)},°C,${new Date(start + i * 1_000).toISOString()}`);
    const input = join(dir, 'metrics.csv');
    await writeFile(input, lines.join('\n'));
    const out = join(dir, 'metrics');
    const result = await analyse(['--input', input, '--out', out]);
    expect(result.summary.count).toBe(300);
    expect(result.perMetric.map(({ metric, summary }) => [metric, summary.count, summary.min, summary.max])).toEqual([
      ['kwh', 200, 30, 34],
      ['temp °C', 100, 20, 22],
    ]);
    expect(result.notes.join(' ')).toContain('2 metrics (kwh, temp °C)');
    const own = JSON.parse(await readFile(join(out, 'metric-temp__C', 'summary.json'), 'utf8'));
    expect(own).toMatchObject({ count: 100, filters: { metric: 'temp °C' } });
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain(
      '<a href="metric-temp__C/report.html">temp °C</a>',
    );
    expect((await readFile(join(out, 'metric-kwh', 'values-over-time.svg'), 'utf8')).startsWith('<svg')).toBe(true);
  });

  it('refuses bad flags, naming each', () => {
    expect(() => parseOptions(['--threshold', 'high', '--from', 'someday'], {})).toThrow(
      /--from: must be an ISO-8601[\s\S]*--threshold: must be a number/,
    );
    expect(() => parseOptions(['--input', 'x.csv', '--api', 'http://x'], {})).toThrow(
      'give --input or --api, not both',
    );
  });
});

describe('charts and report', () => {
  let out: string;
  beforeAll(async () => {
    const input = join(dir, 'charts.csv');
    await writeFile(input, fixtureCsv());
    out = join(dir, 'charts');
    await analyse(['--input', input, '--out', out]);
  });

  it('writes valid SVGs with their marks, titles and axis labels', async () => {
    const expectations: Record<string, string[]> = {
      'value-distribution': [
        'Value distribution (most frequent: 20, 30)',
        'Readings',
        'mark-rect',
        'most frequent',
        'other',
      ],
      'readings-over-time': ['Readings per minute', 'Minute (UTC)', 'mark-line'],
      'per-device': ['Readings per device', 'device-a', 'over 50', 'mark-rect'],
      'values-over-time': ['threshold 50', 'mark-area', 'mark-rule'],
    };
    for (const [name, needles] of Object.entries(expectations)) {
      const svg = await readFile(join(out, `${name}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      for (const needle of needles) expect(svg).toContain(needle);
    }
  });

  it('writes PNGs that decode, are not blank, and have their labels drawn', async () => {
    for (const name of ['value-distribution', 'readings-over-time', 'per-device', 'values-over-time']) {
      const png = decodePng(await readFile(join(out, `${name}.png`)));
      expect(png.width).toBeGreaterThan(500);
      expect(new Set(png.data).size).toBeGreaterThan(10);
    }
    // Without a usable font resvg silently drops all text: drawing with and without the text
    // elements must differ.
    const svg = await readFile(join(out, 'value-distribution.svg'), 'utf8');
    const withText = decodePng(renderPng(svg, findFont())).data;
    const withoutText = decodePng(renderPng(svg.replace(/<text[\s\S]*?<\/text>/g, ''), findFont())).data;
    expect(Buffer.compare(withText, withoutText)).not.toBe(0);
  });

  it('labels the value axis with a few round numbers that never overlap, however many distinct values', async () => {
    const lines = ['deviceId,metric,value,ts'];
    for (let i = 0; i < 3_000; i++) lines.push(`d,m,${((i * 37) % 500) / 3},${1_700_000_000_000 + i * 1_000}`);
    const input = join(dir, 'distinct.csv');
    await writeFile(input, lines.join('\n'));
    await analyse(['--input', input, '--out', join(dir, 'distinct')]);
    const svg = await readFile(join(dir, 'distinct', 'value-distribution.svg'), 'utf8');
    // The first axis-label group is the x axis: each label's position and text.
    const xAxis = /role-axis-label[^>]*>([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
    const labels = [...xAxis.matchAll(/translate\(([\d.-]+),[\d.-]+\)[^>]*opacity="1">([^<]*)</g)].map((m) => ({
      x: Number(m[1]),
      text: m[2] as string,
    }));
    expect(labels.length).toBeGreaterThanOrEqual(3);
    expect(labels.length).toBeLessThanOrEqual(25);
    for (const label of labels) expect(label.text).toMatch(/^-?[\d.,]+$/);
    // 11 px DejaVu Sans: under 7 px a character; neighbours' half-widths must fit between them.
    for (let i = 1; i < labels.length; i++) {
      const [left, right] = [labels[i - 1], labels[i]] as [{ x: number; text: string }, { x: number; text: string }];
      expect(right.x - left.x).toBeGreaterThan(((left.text.length + right.text.length) / 2) * 7);
    }
  });

  it('draws gaps as gaps: no line or band across minutes without readings', async () => {
    const lines = ['deviceId,metric,value,ts'];
    const start = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
    // Three minutes with readings, an hour with none, three minutes again.
    for (const minute of [0, 1, 2, 63, 64, 65])
      for (let i = 0; i < 5; i++) lines.push(`d,m,${minute + i},${start + minute * 60_000 + i * 1_000}`);
    const input = join(dir, 'gap.csv');
    await writeFile(input, lines.join('\n'));
    await analyse(['--input', input, '--out', join(dir, 'gap')]);
    const svg = await readFile(join(dir, 'gap', 'values-over-time.svg'), 'utf8');
    const subpaths = (role: string) =>
      (new RegExp(`${role} role-mark[^>]*>\\s*<path[^>]* d="([^"]*)"`).exec(svg)?.[1] ?? '').match(/M/g)?.length ?? 0;
    expect(subpaths('mark-line')).toBe(2);
    expect(subpaths('mark-area')).toBe(2);
  });

  it('writes one self-contained report.html with every chart and no network reference', async () => {
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)?.length).toBe(4);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).toContain('Bad rows skipped');
    expect(html).toContain('line 102');
  });
});

describe('analysis against the API', () => {
  it('gives the same summary from the API as from its CSV export, reading with READ_TOKEN where the API wants it', async () => {
    const port = await freePort();
    const redis = await useRedis();
    const api = startService(join(import.meta.dir, '../../api/src/index.ts'), {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'api.db'),
      API_TOKEN: 't',
      READ_TOKEN: 'let-me-read',
      REDIS_URL: redis.url,
      EXPECTED_WORKERS: '',
      LOG_LEVEL: 'warn',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        () =>
          fetch(`${base}/health`).then(
            (r) => r.ok,
            () => false,
          ),
        { what: 'API' },
      );
      const readings = Array.from({ length: 2_000 }, (_, i) => ({
        deviceId: `device-${i % 7}`,
        metric: 'kwh',
        value: (i * 13) % 97,
        unit: 'kWh',
        ts: new Date(Date.UTC(2026, 10, 22, 9, 0, 0) + i * 997).toISOString(),
      }));
      const response = await fetch(`${base}/readings/batch`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ readings }),
      });
      expect(response.status).toBe(200);
      await expect(analyse(['--api', base, '--out', join(dir, 'refused-report'), '--skip-charts'])).rejects.toThrow(
        'the API answered 401',
      );
      const fromApi = await analyse(['--api', base, '--out', join(dir, 'api-report'), '--skip-charts'], {
        READ_TOKEN: 'let-me-read',
      });
      expect(fromApi.summary.count).toBe(2_000);
      // No alerting service reports rules here: the API's threshold is its fallback, 50.
      expect(fromApi.summary.threshold).toBe(50);
      expect(fromApi.notes).toContain(
        "threshold 50, as the API counts it (the alerting rules'; --threshold to choose)",
      );
      const fromCsv = await analyse([
        '--input',
        join(dir, 'api-report', 'readings.csv'),
        '--out',
        join(dir, 'csv-report'),
        '--skip-charts',
      ]);
      expect(fromCsv.summary).toEqual(fromApi.summary);
    } finally {
      await api.kill('SIGTERM');
      await redis.stop();
    }
  });
});

describe('scale', () => {
  // Peak memory is a benchmark figure (bun run bench:analysis), not a test: a busy machine's
  // allocator can move it. The test holds what a user needs: a million rows, every one counted.
  it('analyses 1,000,000 generated rows in one streaming pass', async () => {
    const input = join(dir, 'million.csv');
    const writer = Bun.file(input).writer();
    writer.write('id,deviceId,metric,value,unit,ts,storedAt\n');
    let chunk = '';
    for (let i = 0; i < 1_000_000; i++) {
      const ts = new Date(Date.UTC(2026, 10, 1) + i * 50).toISOString();
      chunk += `r${i},device-${i % 1_000},kwh,${10 + ((i * 7_919) % 91)},kWh,${ts},${ts}\n`;
      if (chunk.length > 1 << 20) {
        writer.write(chunk);
        chunk = '';
      }
    }
    writer.write(chunk);
    await writer.end();
    const analysis = Bun.spawn(
      ['bun', join(import.meta.dir, 'index.ts'), '--input', input, '--out', join(dir, 'million'), '--skip-charts'],
      { stdout: 'pipe', stderr: 'pipe' },
    );
    expect(await analysis.exited).toBe(0);
    const output = await new Response(analysis.stdout).text();
    expect(output).toContain('1,000,000 readings');
    expect(output).toContain('0 bad rows skipped');
  }, 60_000);
});
