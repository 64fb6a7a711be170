import type { Summary } from './summary.ts';

const escape = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const number = (value: number | null, digits = 3) =>
  value === null ? '–' : Number(value.toFixed(digits)).toLocaleString('en');

/** One self-contained page: the summary table and the charts inlined as SVG; nothing to fetch. */
export function reportHtml(
  summary: Summary,
  charts: Array<{ title: string; svg: string }>,
  source: string,
  metrics: Array<{ metric: string; href: string }> = [],
): string {
  const rows: Array<[string, string]> = [
    ['Source', source],
    ['Readings', summary.count.toLocaleString('en')],
    ['Bad rows skipped', summary.badRows.toLocaleString('en')],
    ['Min / mean / max', `${number(summary.min)} / ${number(summary.mean)} / ${number(summary.max)}`],
    ['Standard deviation', number(summary.stdDev)],
    ['p50 / p95 / p99', `${number(summary.p50)} / ${number(summary.p95)} / ${number(summary.p99)}`],
    [
      'Most frequent',
      `${
        summary.mostFrequent.values
          .slice(0, 10)
          .map((v) => number(v))
          .join(', ') || '–'
      } (${summary.mostFrequent.count.toLocaleString('en')} times)`,
    ],
    [
      'Counting',
      summary.counting.method === 'exact'
        ? `exact over ${summary.counting.distinctValues.toLocaleString('en')} distinct values`
        : `bucketed by ${summary.counting.bucketWidth}`,
    ],
    [
      `${summary.overTime.bucket[0]?.toUpperCase()}${summary.overTime.bucket.slice(1)}s in the series`,
      summary.overTime.points.length.toLocaleString('en'),
    ],
    ...(summary.timeOutliers
      ? ([
          [
            'Far from the rest in time',
            `${summary.timeOutliers.count.toLocaleString('en')} readings, ${summary.timeOutliers.earliest} to ${summary.timeOutliers.latest}: outside the series, in every other figure (--from/--to to choose the window)`,
          ],
        ] as Array<[string, string]>)
      : []),
    ['Devices', summary.perDevice.length.toLocaleString('en')],
    [
      `Readings over ${summary.threshold}`,
      summary.perDevice.reduce((sum, d) => sum + d.overThreshold, 0).toLocaleString('en'),
    ],
  ];
  const bad = summary.badRowSamples.map((row) => `<li>line ${row.line}: ${escape(row.error)}</li>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Telemetry report</title>
<style>
  body { font-family: system-ui, 'DejaVu Sans', sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
  table { border-collapse: collapse; margin-bottom: 2rem; }
  th, td { text-align: left; padding: .3rem .8rem; border-bottom: 1px solid #ddd; }
  figure { margin: 0 0 2rem; }
</style>
</head>
<body>
<h1>Telemetry report</h1>
<p>Generated ${escape(new Date().toISOString())}.</p>
<table>${rows.map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value)}</td></tr>`).join('')}</table>
${metrics.length > 0 ? `<h2>Per metric</h2><p>The figures below mix ${metrics.length} metrics and their units; each one alone:</p><ul>${metrics.map(({ metric, href }) => `<li><a href="${escape(href)}">${escape(metric)}</a></li>`).join('')}</ul>` : ''}
${bad ? `<h2>First bad rows</h2><ul>${bad}</ul>` : ''}
${charts.map((chart) => `<figure aria-label="${escape(chart.title)}">${chart.svg}</figure>`).join('\n')}
</body>
</html>
`;
}
