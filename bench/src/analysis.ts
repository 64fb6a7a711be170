/**
 * Analysis benchmark: generates a CSV of --gb gigabytes (default 2) in the export's format and
 * runs the statistics pass over it in a child process: rows/s and peak RSS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliNumber, parseCli } from 'core';

const { values } = parseCli({
  name: 'bench:analysis',
  usage: `Usage: bun run bench:analysis [--gb G]
  Writes a CSV of G gigabytes (default 2) in the export's format to a temp dir and runs the
  analysis' statistics pass over it: rows/s and peak RSS.`,
  options: { gb: { type: 'string', default: '2' } },
});
const targetBytes = cliNumber('bench:analysis', 'gb', values.gb, { min: 0.001, max: 1_000 }) * 1e9;
const dir = await mkdtemp(join(tmpdir(), 'bench-analysis-'));
const input = join(dir, 'readings.csv');
try {
  const writer = Bun.file(input).writer();
  const header = 'id,deviceId,metric,value,unit,ts,storedAt\n';
  writer.write(header);
  let bytes = header.length;
  let rows = 0;
  const start = Date.UTC(2026, 10, 1);
  while (bytes < targetBytes) {
    let chunk = '';
    for (let i = 0; i < 10_000; i++, rows++) {
      const ts = new Date(start + rows * 20).toISOString();
      chunk += `019a${rows.toString(16).padStart(28, '0')},device-${String(rows % 1_000).padStart(4, '0')},kwh,${10 + ((rows * 7_919) % 91)},kWh,${ts},${ts}\n`;
    }
    writer.write(chunk);
    bytes += chunk.length;
  }
  await writer.end();
  const analysis = Bun.spawn(
    [
      'bun',
      join(import.meta.dir, '../../analysis/src/index.ts'),
      '--input',
      input,
      '--out',
      join(dir, 'report'),
      '--skip-charts',
    ],
    { stdout: 'pipe', stderr: 'inherit' },
  );
  const started = performance.now();
  const output = await new Response(analysis.stdout).text();
  await analysis.exited;
  const seconds = (performance.now() - started) / 1_000;
  const peak = /peak RSS (\d+) MB/.exec(output)?.[1];
  console.log('| analysis measurement | result |\n|---|---|');
  console.log(
    `| statistics pass over ${(bytes / 1e9).toFixed(2)} GB CSV (${rows.toLocaleString('en')} rows) | ${Math.round(rows / seconds).toLocaleString('en')} rows/s, ${(bytes / 1e6 / seconds).toFixed(0)} MB/s, ${seconds.toFixed(1)} s, peak RSS ${peak} MB |`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
