/**
 * Live streams under hostile load: 1,000 SSE clients that never read and 100 that read everything,
 * while the producer publishes 5,000 readings/s for S seconds. Measures the API's peak RSS,
 * /health latency, lead time, and whether every reading was stored and reached every reading client.
 */
import { join } from 'node:path';
import { waitFor } from 'core/testing';
import { processUsage } from '../support.ts';
import { type Measurement, formatLatency, int, summarize } from './report.ts';
import { startStack } from './stack.ts';

const RATE = 5_000;

/** The clients run in a process of their own: their work must not delay this one's /health timings. */
function startClients(url: string, stalled: number, readers: number, expected: number) {
  const child = Bun.spawn(
    ['bun', join(import.meta.dir, 'sse-clients.ts'), url, String(stalled), String(readers), String(expected)],
    { stdout: 'pipe', stderr: 'inherit' },
  );
  const lines: string[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
        lines.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
      }
    }
  })();
  return {
    connected: () => lines.length > 0,
    /** Waits for the clients' report (asking for it after `timeoutMs`). */
    async report(timeoutMs: number): Promise<{ fewest: number; readersClosed: number }> {
      const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      await child.exited;
      await reading;
      clearTimeout(timer);
      return JSON.parse(lines.at(-1) ?? '{"fewest":0,"readersClosed":0}');
    },
    kill: () => child.kill('SIGKILL'),
  };
}

export async function liveStreamsScenario(options: {
  stalled: number;
  readers: number;
  seconds: number;
}): Promise<Measurement[]> {
  const { stalled, readers, seconds } = options;
  const count = RATE * seconds;
  const caps = String(stalled + readers + 100);
  const stack = await startStack({ MAX_STREAM_CLIENTS: caps, MAX_STREAM_CLIENTS_PER_IP: caps });
  const clients = startClients(stack.api.url, stalled, readers, count);
  try {
    await waitFor(clients.connected, { timeoutMs: 60_000, what: 'SSE clients connected' });
    const before = await processUsage(stack.api.pid);

    const healthMs: number[] = [];
    let sampling = true;
    const healthLoop = (async () => {
      while (sampling) {
        const started = performance.now();
        await fetch(`${stack.api.url}/health`).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        );
        healthMs.push(performance.now() - started);
        await Bun.sleep(100);
      }
    })();
    const producer = stack.startProducer({ RATE: String(RATE), COUNT: String(count) });
    const exitCode = await producer.exited;
    if (exitCode !== 0) throw new Error(`producer exited with ${exitCode}: ${producer.output().slice(-2_000)}`);
    await waitFor(() => stack.drained(['store']), {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `${count} readings stored`,
    });
    const received = await clients.report(60_000);
    sampling = false;
    await healthLoop;

    const usage = await processUsage(stack.api.pid);
    const rows = await stack.stored();
    const stored = rows.rows;
    const lead = summarize(rows.leads);
    const health = summarize(healthMs.map((ms) => Math.round(ms * 10) / 10));
    const { fewest } = received;
    // The API's own count: a paused client socket does not notice that the server closed it.
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    const dropped = Number(
      /^api_live_clients_dropped_total\{feed="readings"\} (\d+)/m.exec(metrics)?.[1] ?? Number.NaN,
    );
    const cpu = (usage.cpuSeconds - before.cpuSeconds) / count;
    const label = `${int(stalled)} stalled + ${int(readers)} reading SSE clients, ${int(RATE)}/s for ${seconds} s`;
    return [
      {
        scenario: 'live',
        name: `API peak RSS, ${label}`,
        result: `${Math.round(usage.peakRssMb)} MB (${Math.round(before.rssMb)} MB before ingest)`,
        target: '< 300 MB',
        met: usage.peakRssMb < 300,
        data: { ...usage },
      },
      {
        scenario: 'live',
        name: `/health latency, ${label}`,
        result: formatLatency(health),
        target: 'p99 < 100 ms',
        met: health.p99 < 100,
        data: { ...health },
      },
      {
        scenario: 'live',
        name: `lead time, ${label}`,
        result: formatLatency(lead),
        target: 'p99 < 200 ms',
        met: lead.p99 < 200,
        data: { ...lead },
      },
      {
        scenario: 'live',
        name: `delivery, ${label}`,
        result: `${int(stored)} of ${int(count)} stored; fewest received by a reading client ${int(fewest)}; clients dropped by the API ${int(dropped)}; API CPU ${(cpu * 1e6).toFixed(1)} µs per reading`,
        target: 'every reading stored and received by every reading client',
        met: stored === count && fewest === count,
        data: { stored, count, fewest, dropped, apiCpuSecondsPerReading: cpu },
      },
    ];
  } finally {
    clients.kill();
    await stack.stop();
  }
}
