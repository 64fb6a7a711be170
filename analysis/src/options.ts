import { parseArgs } from 'node:util';
import { ConfigError, type Env, apiUrlOf, parseIsoTime } from 'core';

export interface AnalysisOptions {
  /** A CSV file, or `-` for stdin; when absent the API's export is read. */
  input?: string;
  apiUrl: string;
  fromMs?: number;
  toMs?: number;
  deviceId?: string;
  metric?: string;
  /** Over-threshold counts use value > threshold; unset: the API's (the alerting rules'), else 50. */
  threshold?: number;
  /** READ_TOKEN, sent to the API when set. */
  readToken?: string;
  outDir: string;
  /** Also copy a CSV input to readings.csv (API input is always saved there). */
  copy: boolean;
  charts: boolean;
}

export const USAGE = `Usage: bun run analysis [flags]
  --api URL          read the API's export (default API_URL or http://127.0.0.1:3000)
  --input FILE|-     read a CSV with the export's columns instead (- for stdin)
  --from, --to TIME  window [from, to): ISO-8601 or epoch ms
  --device ID        only this device
  --metric NAME      only this metric
  --threshold X      over-threshold counts use value > X (default: from the API, the threshold
                     alerts fire at; from a file, 50)
  --out DIR          where the report goes (default report/)
  --copy             with --input, also copy the data to DIR/readings.csv
  --skip-charts      statistics only (summary.json)`;

function parseTime(
  flag: string,
  raw: string | undefined,
  problems: Array<{ key: string; message: string }>,
): number | undefined {
  if (raw === undefined) return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : parseIsoTime(raw);
  if (!Number.isFinite(ms))
    problems.push({ key: flag, message: `must be an ISO-8601 time or epoch ms, got ${JSON.stringify(raw)}` });
  return ms;
}

/** @throws ConfigError naming every bad flag. */
export function parseOptions(argv: readonly string[], env: Env): AnalysisOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        api: { type: 'string' },
        input: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        device: { type: 'string' },
        metric: { type: 'string' },
        threshold: { type: 'string' },
        out: { type: 'string' },
        copy: { type: 'boolean' },
        'skip-charts': { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new ConfigError([{ key: 'arguments', message: `${(error as Error).message.split('. ')[0]} (see --help)` }]);
  }
  const problems: Array<{ key: string; message: string }> = [];
  const fromMs = parseTime('--from', values.from as string | undefined, problems);
  const toMs = parseTime('--to', values.to as string | undefined, problems);
  if (fromMs !== undefined && toMs !== undefined && toMs < fromMs)
    problems.push({ key: '--to', message: 'must not be before --from' });
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && (!Number.isFinite(threshold) || values.threshold === ''))
    problems.push({ key: '--threshold', message: `must be a number, got ${JSON.stringify(values.threshold)}` });
  const apiUrl = (values.api as string | undefined) ?? apiUrlOf(env);
  if (!values.input) {
    try {
      if (!['http:', 'https:'].includes(new URL(apiUrl).protocol)) throw new Error();
    } catch {
      problems.push({ key: '--api', message: `must be an http(s) URL, got ${JSON.stringify(apiUrl)}` });
    }
  }
  if (values.input && values.api) problems.push({ key: '--input', message: 'give --input or --api, not both' });
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    input: values.input as string | undefined,
    apiUrl,
    fromMs,
    toMs,
    deviceId: values.device as string | undefined,
    metric: values.metric as string | undefined,
    threshold,
    ...(env.READ_TOKEN ? { readToken: env.READ_TOKEN } : {}),
    outDir: (values.out as string | undefined) ?? 'report',
    copy: Boolean(values.copy),
    charts: !values['skip-charts'],
  };
}
