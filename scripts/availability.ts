/**
 * `bun run availability`: C concurrent clients each send N requests to the API (default 100 × 10,
 * GET /readings/latest?limit=100), then prints the success rate and latency percentiles. Exits 1
 * below --target percent (default 99.9). Flags: --url, --concurrency, --requests, --path, --target.
 */
import { apiUrlOf, cliError, cliNumber, parseCli } from 'core';

const NAME = 'availability';
const { values } = parseCli({
  name: NAME,
  usage: `Usage: bun run availability [flags]
  --url URL          the API (default API_URL or http://127.0.0.1:3000)
  --concurrency C    clients at once (default 100)
  --requests N       requests per client (default 10)
  --path PATH        what they ask for (default /readings/latest?limit=100)
  --target PERCENT   exit 1 below this success rate (default 99.9)`,
  options: {
    url: { type: 'string', default: apiUrlOf(process.env) },
    concurrency: { type: 'string', default: '100' },
    requests: { type: 'string', default: '10' },
    path: { type: 'string', default: '/readings/latest?limit=100' },
    target: { type: 'string', default: '99.9' },
  },
});
const concurrency = cliNumber(NAME, 'concurrency', values.concurrency, { min: 1, max: 100_000, integer: true });
const perClient = cliNumber(NAME, 'requests', values.requests, { min: 1, integer: true });
const target = cliNumber(NAME, 'target', values.target, { min: 0, max: 100 });
let url: string;
try {
  url = new URL(values.path, values.url).toString();
  if (!/^https?:$/.test(new URL(url).protocol)) throw new Error('not http(s)');
} catch {
  cliError(
    NAME,
    `--url must be an http(s) URL and --path a path, got ${JSON.stringify(values.url)} and ${JSON.stringify(values.path)}`,
  );
}
const latencies: number[] = [];
const failures = new Map<string, number>();
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < perClient; i++) {
      const t0 = performance.now();
      let outcome = 'ok';
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (!response.ok) outcome = `HTTP ${response.status}`;
      } catch (error) {
        outcome = (error as Error).name;
      }
      latencies.push(performance.now() - t0);
      if (outcome !== 'ok') failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
    }
  }),
);
const total = concurrency * perClient;
const failed = [...failures.values()].reduce((sum, n) => sum + n, 0);
const rate = ((total - failed) / total) * 100;
latencies.sort((a, b) => a - b);
const at = (p: number) =>
  (latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0).toFixed(1);
const seconds = (performance.now() - started) / 1_000;
console.log(`${url}: ${total} requests from ${concurrency} clients in ${seconds.toFixed(2)} s`);
console.log(
  `success ${rate.toFixed(2)}% (target ${target}%), latency p50 ${at(50)} ms, p95 ${at(95)} ms, p99 ${at(99)} ms, max ${at(100)} ms`,
);
for (const [reason, count] of failures) console.log(`  failed: ${count} × ${reason}`);
process.exit(rate >= target ? 0 : 1);
