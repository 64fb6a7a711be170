/**
 * `bun run status`: the pipeline's health (GET /health on API_URL) as tables for people.
 * Exits 0 when ok, 1 when degraded, 2 when down or the API cannot be reached.
 */
import { apiUrlOf, cliError, parseCli } from 'core';

const { positionals } = parseCli({
  name: 'status',
  usage: `Usage: bun run status [API_URL]
  The pipeline's health (GET /health) as tables: the API, storage, Redis, groups, dead letters
  and workers. API_URL defaults to the API_URL setting or http://127.0.0.1:3000.
  Exits 0 when ok, 1 when degraded, 2 when down or unreachable.`,
  options: {},
  positionals: [0, 1],
});
const apiUrl = positionals[0] ?? apiUrlOf(process.env);
if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol))
  cliError('status', `API_URL must be an http(s) URL, got ${JSON.stringify(apiUrl)}`);
const COLOUR = {
  ok: '\x1b[32m',
  degraded: '\x1b[33m',
  down: '\x1b[31m',
  alive: '\x1b[32m',
  silent: '\x1b[31m',
} as Record<string, string>;
const paint = (text: string) => (process.stdout.isTTY ? `${COLOUR[text] ?? ''}${text}\x1b[0m` : text);

function table(title: string, headers: string[], rows: Array<Array<string | number>>) {
  console.log(`\n${title}`);
  if (rows.length === 0) {
    console.log('  (none)');
    return;
  }
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  for (const [index, row] of cells.entries()) {
    console.log(
      `  ${row.map((cell, column) => (column === 0 || index === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ')}`,
    );
  }
}

interface HealthView {
  status: string;
  reasons: string[];
  checks: Record<string, { status: string; latencyMs?: number; error?: string; version?: string }>;
  groups: Array<{ stream: string; group: string; consumers: number; pending: number; lag: number | null }>;
  partitionTotals?: Array<{ stream: string; group: string; partitions: number; pending: number; lag: number | null }>;
  deadLetters: Array<{ stream: string; entries: number }>;
  workers: Array<{
    service: string;
    instance: string;
    status: string;
    lastSeenSecondsAgo: number;
    pid: number;
    lastProgressAt: string;
  }>;
}

let health: HealthView;
try {
  health = (await (
    await fetch(new URL('/health', apiUrl), { signal: AbortSignal.timeout(5_000) })
  ).json()) as HealthView;
} catch (error) {
  console.error(
    `status: cannot reach the API at ${apiUrl} (${(error as Error).message}); is it running? (bun run start)`,
  );
  process.exit(2);
}

console.log(`pipeline ${paint(health.status)} — ${apiUrl}`);
for (const reason of health.reasons) console.log(`  - ${reason}`);
table(
  'checks',
  ['check', 'status', 'detail'],
  Object.entries(health.checks).map(([name, check]) => [
    name,
    paint(check.status),
    check.error ?? (check.latencyMs === undefined ? (check.version ?? '') : `${check.latencyMs} ms`),
  ]),
);
table(
  'consumer groups',
  ['stream / group', 'consumers', 'pending', 'lag'],
  health.groups.map((g) => [`${g.stream} / ${g.group}`, g.consumers, g.pending, g.lag ?? '?']),
);
if (health.partitionTotals)
  table(
    'consumer groups, all partitions',
    ['stream / group', 'partitions', 'pending', 'lag'],
    health.partitionTotals.map((g) => [`${g.stream} / ${g.group}`, g.partitions, g.pending, g.lag ?? '?']),
  );
table(
  'dead letters',
  ['stream', 'entries'],
  health.deadLetters.map((d) => [d.stream, d.entries]),
);
table(
  'workers',
  ['service / instance', 'status', 'seen', 'pid', 'last progress'],
  health.workers.map((w) => [
    `${w.service} / ${w.instance}`,
    paint(w.status),
    `${w.lastSeenSecondsAgo} s ago`,
    w.pid,
    w.lastProgressAt.slice(11, 19),
  ]),
);
process.exit(health.status === 'ok' ? 0 : health.status === 'degraded' ? 1 : 2);
