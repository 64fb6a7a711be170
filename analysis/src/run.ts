import { neutraliseCsvLine } from 'core';
import { parse } from 'csv-parse/sync';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartSpecs } from './charts.ts';
import { forEachLine } from './lines.ts';
import type { AnalysisOptions } from './options.ts';
import { findFont, renderPng, renderSvg } from './render.ts';
import { reportHtml } from './report.ts';
import { rowParser } from './rows.ts';
import { type Summary, createSummary } from './summary.ts';

export interface Progress {
  rows: number;
  bytes: number;
  /** Total bytes when known (a file), for the ETA. */
  totalBytes?: number;
}

export interface AnalysisResult {
  summary: Summary;
  /** With several metrics in the data and no --metric: each one's summary, in its own folder. */
  perMetric: Array<{ metric: string; summary: Summary; dir: string }>;
  files: string[];
  /** What was read: a file, stdin or the API URL. */
  source: string;
  notes: string[];
}

/** The input as a byte stream, plus what it is and how big (when known). */
const authHeaders = (options: AnalysisOptions): Record<string, string> =>
  options.readToken ? { authorization: `Bearer ${options.readToken}` } : {};

/**
 * The threshold when none was given: from the API, the one its /stats uses for this window —
 * the alerting rules' (see the API's README) — so the report counts what alerts fire at; 50
 * for a file.
 */
async function defaultThreshold(options: AnalysisOptions, notes: string[]): Promise<number> {
  if (options.input) return 50;
  const url = new URL('/stats', options.apiUrl);
  url.searchParams.set('deviceLimit', '0');
  if (options.deviceId) url.searchParams.set('deviceId', options.deviceId);
  if (options.metric) url.searchParams.set('metric', options.metric);
  try {
    const response = await fetch(url, { headers: authHeaders(options) });
    const threshold = response.ok ? ((await response.json()) as { threshold?: unknown }).threshold : undefined;
    if (typeof threshold === 'number') {
      notes.push(`threshold ${threshold}, as the API counts it (the alerting rules'; --threshold to choose)`);
      return threshold;
    }
  } catch {
    // The export below says what is wrong with the API.
  }
  return 50;
}

async function openInput(
  options: AnalysisOptions,
): Promise<{ stream: ReadableStream<Uint8Array>; source: string; size?: number; saveCopy: boolean }> {
  if (options.input === '-') return { stream: Bun.stdin.stream(), source: 'stdin', saveCopy: options.copy };
  if (options.input) {
    const file = Bun.file(options.input);
    if (!(await file.exists())) throw new Error(`--input ${options.input}: no such file`);
    return { stream: file.stream(), source: options.input, size: file.size, saveCopy: options.copy };
  }
  const url = new URL('/readings/export', options.apiUrl);
  url.searchParams.set('format', 'csv');
  if (options.fromMs !== undefined) url.searchParams.set('from', new Date(options.fromMs).toISOString());
  if (options.toMs !== undefined) url.searchParams.set('to', new Date(options.toMs).toISOString());
  if (options.deviceId) url.searchParams.set('deviceId', options.deviceId);
  if (options.metric) url.searchParams.set('metric', options.metric);
  let response: Response;
  try {
    response = await fetch(url, { headers: authHeaders(options) });
  } catch (error) {
    throw new Error(
      `cannot reach the API at ${options.apiUrl} (${(error as Error).message}); start it, or use --input FILE`,
    );
  }
  if (!response.ok || !response.body)
    throw new Error(`the API answered ${response.status} to ${url}: ${(await response.text()).slice(0, 200)}`);
  return { stream: response.body, source: url.toString(), saveCopy: true };
}

/** Passes bytes through while writing them to `path` (Bun's writer: ~4× fs streams). */
/**
 * readings.csv, written line by line as the pass reads them, with cells that a spreadsheet would
 * run as formulas neutralised (the API's export already is; stdin may not be).
 */
function csvCopy(path: string) {
  const writer = Bun.file(path).writer();
  const split = (line: string) => (parse(line, { relax_column_count: true, relax_quotes: true }) as string[][])[0];
  const join = (cells: string[]) =>
    cells.map((cell) => (/[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)).join(',');
  return {
    write(line: string) {
      let safe = line;
      try {
        safe = neutraliseCsvLine(line, split, join);
      } catch {
        // A line csv-parse cannot read is a bad row for the summary; copied as it came.
      }
      writer.write(`${safe}\n`);
    },
    done: async () => {
      await writer.end();
    },
  };
}

/**
 * One streaming pass over the readings (constant memory whatever the size), then summary.json,
 * the charts as SVG and PNG, and report.html in `options.outDir`.
 */
export async function runAnalysis(
  options: AnalysisOptions,
  onProgress: (progress: Progress) => void = () => {},
): Promise<AnalysisResult> {
  await mkdir(options.outDir, { recursive: true });
  const notes: string[] = [];
  const fontFile = options.charts ? findFont() : undefined;
  const input = await openInput(options);
  const stream = input.stream;
  const files: string[] = [];
  const copy = input.saveCopy ? csvCopy(join(options.outDir, 'readings.csv')) : undefined;
  if (copy) files.push(join(options.outDir, 'readings.csv'));
  else {
    notes.push(`input is already a CSV file (${input.source}); not copied to readings.csv (use --copy)`);
  }

  const threshold = options.threshold ?? (await defaultThreshold(options, notes));
  const summary = createSummary(threshold, options);
  // Each metric's own summary as well (unless --metric chose one): its values share a unit, so its
  // statistics and charts mean something; the summary of them all mixes kWh with °C.
  const metrics = new Map<string, ReturnType<typeof createSummary>>();
  let untracked = 0;
  let bytes = 0;
  let parser: ReturnType<typeof rowParser> | undefined;
  let lastReport = 0;
  await forEachLine(
    stream,
    (line, lineNumber) => {
      if (line === '') return;
      copy?.write(line);
      if (!parser) {
        parser = rowParser(line);
        return;
      }
      const row = parser.parse(line);
      if (typeof row === 'string') summary.bad(lineNumber, row);
      else if (summary.add(row) && options.metric === undefined) {
        let own = metrics.get(row.metric);
        if (!own && metrics.size < MAX_METRIC_REPORTS) {
          own = createSummary(threshold, { ...options, metric: row.metric });
          metrics.set(row.metric, own);
        }
        if (own) own.add(row);
        else untracked += 1;
      }
      if ((lineNumber & 0xffff) === 0) {
        const now = performance.now();
        if (now - lastReport > 200) {
          lastReport = now;
          onProgress({ rows: lineNumber, bytes, totalBytes: input.size });
        }
      }
    },
    (n) => {
      bytes += n;
    },
  );
  await copy?.done();
  if (!parser) throw new Error(`${input.source} is empty: no header line`);
  const result = summary.finish();
  if (result.timeOutliers) {
    const { count, earliest, latest } = result.timeOutliers;
    notes.push(
      `${count} reading${count === 1 ? '' : 's'} far in time from the rest (${earliest === latest ? earliest : `${earliest} to ${latest}`}): left out of the series over time, counted in every other figure; --from/--to choose the window`,
    );
  }
  if (result.counting.method === 'bucketed')
    notes.push(
      `more than 100,000 distinct values: counted in buckets of ${result.counting.bucketWidth} (mode and quantiles are bucket starts)`,
    );

  const perMetric: AnalysisResult['perMetric'] = [];
  if (metrics.size > 1) {
    notes.push(
      `${metrics.size} metrics (${[...metrics.keys()].join(', ')}): the summary of them all mixes their units; each one's summary and charts are in a folder of its own`,
    );
    if (untracked > 0)
      notes.push(
        `more than ${MAX_METRIC_REPORTS} metrics: ${untracked} readings of the others are in the summary of all only`,
      );
    for (const [metric, own] of metrics) {
      const dir = join(options.outDir, folderName(metric));
      await mkdir(dir, { recursive: true });
      const ownResult = own.finish();
      await writeOutputs(dir, ownResult, own.valueCounts(), `${input.source} (metric ${metric})`, fontFile, files);
      perMetric.push({ metric, summary: ownResult, dir });
    }
  }
  await writeOutputs(options.outDir, result, summary.valueCounts(), input.source, fontFile, files, perMetric);
  return { summary: result, perMetric, files, source: input.source, notes };
}

/** Metrics given a report of their own at most: past them, the summary of all holds the rest. */
const MAX_METRIC_REPORTS = 20;

/** A metric's folder: its name with anything but letters, digits, `.`, `_` and `-` as `_`. */
const folderName = (metric: string) => `metric-${metric.replace(/[^A-Za-z0-9._-]/g, '_')}`;

/** summary.json, the charts as SVG and PNG (with a font), and report.html, in `dir`. */
async function writeOutputs(
  dir: string,
  result: Summary,
  counts: ReadonlyArray<[number, number]>,
  source: string,
  fontFile: string | undefined,
  files: string[],
  perMetric: AnalysisResult['perMetric'] = [],
): Promise<void> {
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify({ source, ...result }, null, 2)}\n`);
  files.push(join(dir, 'summary.json'));
  if (!fontFile) return;
  const charts = [];
  for (const chart of chartSpecs(result, counts)) {
    const svg = await renderSvg(chart.spec);
    await writeFile(join(dir, `${chart.name}.svg`), svg);
    await writeFile(join(dir, `${chart.name}.png`), renderPng(svg, fontFile));
    files.push(join(dir, `${chart.name}.svg`), join(dir, `${chart.name}.png`));
    charts.push({ title: chart.title, svg });
  }
  const links = perMetric.map(({ metric, dir: own }) => ({ metric, href: `${own.slice(dir.length + 1)}/report.html` }));
  await writeFile(join(dir, 'report.html'), reportHtml(result, charts, source, links));
  files.push(join(dir, 'report.html'));
}
