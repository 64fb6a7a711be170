/**
 * `bun http-load.ts URL CONNECTIONS SECONDS [polite]`: a closed-loop GET load; prints JSON
 * results. Bodies are read to their end and dropped as they come (an export of 20M readings is
 * gigabytes) and cut at the deadline. `polite` clients wait as long as a 429's or 503's
 * Retry-After says before they ask again, as a well-made client does; without it they ask again
 * at once.
 */
import { summarize } from './pipeline/report.ts';

const [url, connectionsArg = '50', secondsArg = '5', mode] = process.argv.slice(2);
if (!url) throw new Error('usage: http-load.ts URL CONNECTIONS SECONDS [polite]');
const deadline = performance.now() + Number(secondsArg) * 1_000;
const latencies: number[] = [];
let errors = 0;
let answered = 0;
/** Answers still streaming at the deadline, cut there (an export of 20M readings takes minutes). */
let cut = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(connectionsArg) }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let waitSeconds = 0;
      let response: Response | undefined;
      try {
        response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, deadline - t0)) });
        for await (const _ of response.body ?? []);
        if (response.ok) answered += 1;
        else {
          errors += 1;
          if (mode === 'polite') waitSeconds = Number(response.headers.get('retry-after') ?? 1) || 1;
        }
      } catch (error) {
        if ((error as Error).name === 'TimeoutError' && response?.ok) cut += 1;
        else errors += 1;
      }
      latencies.push(performance.now() - t0);
      if (waitSeconds > 0) await Bun.sleep(Math.min(waitSeconds * 1_000, Math.max(0, deadline - performance.now())));
    }
  }),
);
const elapsed = (performance.now() - started) / 1_000;
const { p50, p99 } = summarize(latencies);
console.log(
  JSON.stringify({
    requests: latencies.length,
    answered,
    cut,
    requestsPerSec: latencies.length / elapsed,
    p50Ms: p50,
    p99Ms: p99,
    errors,
  }),
);
