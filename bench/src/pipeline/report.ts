/** One line of the benchmark table, and the raw numbers behind it for the JSON file. */
export interface Measurement {
  scenario: string;
  name: string;
  result: string;
  target?: string;
  /** Whether the target was met; absent when the line has no target. */
  met?: boolean;
  data?: Record<string, unknown>;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of a sample (sorted here, in place). */
export function summarize(samples: number[]): LatencySummary {
  samples.sort((a, b) => a - b);
  const at = (p: number) =>
    samples[Math.min(samples.length - 1, Math.max(0, Math.ceil((p / 100) * samples.length) - 1))] ?? Number.NaN;
  return { count: samples.length, p50: at(50), p95: at(95), p99: at(99), max: samples.at(-1) ?? Number.NaN };
}

export const formatLatency = (s: LatencySummary) =>
  `p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms, max ${s.max} ms (${s.count.toLocaleString('en-US')} samples)`;

export const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** `, PostgreSQL, 2 API instances` for a measurement's name; nothing for the default (SQLite, one API). */
export function backendLabel(
  options: {
    backend?: string;
    apiInstances?: number;
    ha?: boolean;
    cluster?: boolean;
    partitions?: number;
    alertInstances?: number;
  } = {},
): string {
  const parts = [
    options.backend === 'postgres' ? 'PostgreSQL' : '',
    (options.apiInstances ?? 1) > 1 ? `${options.apiInstances} API instances` : '',
    options.ha ? 'Redis primary + 2 replicas + 3 Sentinels, WAIT 1' : '',
    options.cluster ? 'Redis Cluster of 3 masters + 3 replicas, WAIT 1' : '',
    (options.partitions ?? 1) > 1 ? `${options.partitions} partitions` : '',
    (options.alertInstances ?? 1) > 1 ? `${options.alertInstances} consumer-alert instances` : '',
  ].filter(Boolean);
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
}

export function markdownTable(measurements: readonly Measurement[]): string {
  const lines = ['| scenario | measurement | result | target | met |', '|---|---|---|---|---|'];
  for (const m of measurements) {
    const met = m.met === undefined ? '' : m.met ? 'yes' : '**no**';
    lines.push(`| ${m.scenario} | ${m.name} | ${m.result} | ${m.target ?? ''} | ${met} |`);
  }
  return lines.join('\n');
}
