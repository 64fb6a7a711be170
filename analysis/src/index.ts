import { configOrExit } from 'core';
import { USAGE, parseOptions } from './options.ts';
import { type Progress, runAnalysis } from './run.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}

const options = await configOrExit('analysis', () => parseOptions(process.argv.slice(2), process.env));

const started = performance.now();
/** A one-line progress bar on a terminal; nothing otherwise. */
const showProgress = ({ rows, bytes, totalBytes }: Progress) => {
  const seconds = (performance.now() - started) / 1_000;
  const rate = rows / seconds;
  const eta = totalBytes ? ` · ETA ${Math.max(0, ((totalBytes - bytes) / (bytes / seconds)) | 0)} s` : '';
  const share = totalBytes ? ` ${((bytes / totalBytes) * 100).toFixed(0)}%` : '';
  process.stderr.write(
    `\r\x1b[K${share} ${rows.toLocaleString('en')} rows · ${(bytes / 1e6).toFixed(0)} MB · ${Math.round(rate).toLocaleString('en')} rows/s${eta}`,
  );
};

try {
  const result = await runAnalysis(options, process.stderr.isTTY ? showProgress : undefined);
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const { summary } = result;
  const seconds = (performance.now() - started) / 1_000;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `read ${result.source}: ${summary.count.toLocaleString('en')} readings, ${summary.badRows.toLocaleString('en')} bad rows skipped, in ${seconds.toFixed(1)} s (peak RSS ${peakRssMb.toFixed(0)} MB)`,
  );
  for (const sample of summary.badRowSamples) console.log(`  bad line ${sample.line}: ${sample.error}`);
  console.log(
    `most frequent value: ${summary.mostFrequent.values.slice(0, 10).join(', ') || '–'} (${summary.mostFrequent.count} times); mean ${summary.mean?.toFixed(3) ?? '–'}`,
  );
  for (const note of result.notes) console.log(`note: ${note}`);
  for (const file of result.files) console.log(`wrote ${file}`);
} catch (error) {
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.error(`analysis: ${(error as Error).message}`);
  process.exit(1);
}
