/**
 * `bun http-load.ts URL CONNECTIONS SECONDS`: a closed-loop GET load; prints JSON results. Bodies
 * are read to their end and dropped as they come (an export of 20M readings is gigabytes).
 */
import { summarize } from './pipeline/report.ts';

const [url, connectionsArg = '50', secondsArg = '5'] = process.argv.slice(2);
if (!url) throw new Error('usage: http-load.ts URL CONNECTIONS SECONDS');
const deadline = performance.now() + Number(secondsArg) * 1_000;
const latencies: number[] = [];
let errors = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(connectionsArg) }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const response = await fetch(url);
        for await (const _ of response.body ?? []);
        if (!response.ok) errors += 1;
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - t0);
    }
  }),
);
const elapsed = (performance.now() - started) / 1_000;
const { p50, p99 } = summarize(latencies);
console.log(JSON.stringify({ requests: latencies.length, requestsPerSec: latencies.length / elapsed, p50Ms: p50, p99Ms: p99, errors }));
