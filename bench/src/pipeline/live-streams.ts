/**
 * Live streams under hostile load: 1,000 SSE clients that never read and 100 that read everything,
 * while the producer publishes 5,000 readings/s for S seconds. Measures the API's peak RSS,
 * /health latency, lead time, and whether every reading was stored and reached every reading client.
 */
import { type Socket, connect } from 'node:net';
import { waitFor } from 'core/testing';
import { processUsage } from '../support.ts';
import { type Measurement, formatLatency, int, summarize } from './report.ts';
import { startStack } from './stack.ts';

const RATE = 5_000;
const MARKER = Buffer.from('event: reading\n');

/** A raw HTTP client on /readings/stream; counts the readings it is sent without parsing them. */
async function streamClient(url: string, reads: boolean) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject));
  const client = { socket, received: 0, closed: false };
  socket.on('close', () => {
    client.closed = true;
  });
  socket.on('error', () => {});
  if (reads) {
    // The marker can be split across chunks: keep its length minus one byte of each chunk's end.
    let carry: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      for (let at = data.indexOf(MARKER); at !== -1; at = data.indexOf(MARKER, at + MARKER.length)) client.received += 1;
      carry = data.subarray(Math.max(0, data.length - (MARKER.length - 1)));
    });
  }
  socket.write(`GET /readings/stream HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  if (!reads) socket.pause();
  return client;
}

export async function liveStreamsScenario(options: { stalled: number; readers: number; seconds: number }): Promise<Measurement[]> {
  const { stalled, readers, seconds } = options;
  const count = RATE * seconds;
  const caps = String(stalled + readers + 100);
  const stack = await startStack({ MAX_STREAM_CLIENTS: caps, MAX_STREAM_CLIENTS_PER_IP: caps });
  const clients: Array<Awaited<ReturnType<typeof streamClient>>> = [];
  try {
    for (let i = 0; i < stalled; i++) clients.push(await streamClient(stack.api.url, false));
    const reading: typeof clients = [];
    for (let i = 0; i < readers; i++) reading.push(await streamClient(stack.api.url, true));
    clients.push(...reading);
    const before = await processUsage(stack.api.pid);

    const healthMs: number[] = [];
    let sampling = true;
    const healthLoop = (async () => {
      while (sampling) {
        const started = performance.now();
        await fetch(`${stack.api.url}/health`).then((r) => r.arrayBuffer(), () => undefined);
        healthMs.push(performance.now() - started);
        await Bun.sleep(100);
      }
    })();
    const producer = stack.startProducer({ RATE: String(RATE), COUNT: String(count) });
    const exitCode = await producer.exited;
    if (exitCode !== 0) throw new Error(`producer exited with ${exitCode}: ${producer.output().slice(-2_000)}`);
    await waitFor(async () => stack.rowCount() >= count && (await stack.drained(['store'])), { timeoutMs: 120_000, intervalMs: 100, what: `${count} readings stored` });
    await waitFor(() => reading.every((c) => c.received >= count || c.closed), { timeoutMs: 60_000, intervalMs: 100, what: 'reading clients caught up' }).catch(() => undefined);
    sampling = false;
    await healthLoop;

    const usage = await processUsage(stack.api.pid);
    const stored = stack.rowCount();
    const lead = summarize(stack.query<{ lead: number }>('SELECT stored_at - ts AS lead FROM readings').map((row) => row.lead));
    const health = summarize(healthMs.map((ms) => Math.round(ms * 10) / 10));
    const fewest = Math.min(...reading.map((c) => c.received));
    // The API's own count: a paused client socket does not notice that the server closed it.
    const metrics = await (await fetch(`${stack.api.url}/metrics`)).text();
    const dropped = Number(/^api_live_clients_dropped_total\{feed="readings"\} (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
    const cpu = (usage.cpuSeconds - before.cpuSeconds) / count;
    const label = `${int(stalled)} stalled + ${int(readers)} reading SSE clients, ${int(RATE)}/s for ${seconds} s`;
    return [
      { scenario: 'live', name: `API peak RSS, ${label}`, result: `${Math.round(usage.peakRssMb)} MB (${Math.round(before.rssMb)} MB before ingest)`, target: '< 300 MB', met: usage.peakRssMb < 300, data: { ...usage } },
      { scenario: 'live', name: `/health latency, ${label}`, result: formatLatency(health), target: 'p99 < 100 ms', met: health.p99 < 100, data: { ...health } },
      { scenario: 'live', name: `lead time, ${label}`, result: formatLatency(lead), target: 'p99 < 200 ms', met: lead.p99 < 200, data: { ...lead } },
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
    for (const client of clients) client.socket.destroy();
    await stack.stop();
  }
}
