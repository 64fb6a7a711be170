import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cliNumber, encodeReading, newEventId, parseCli } from 'core';
import { own, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import type { StoredRow } from 'api/src/storage/port.ts';

const apiEntry = join(import.meta.dir, '../../api/src/index.ts');
const CLOCK_TICKS_PER_SEC = 100;

/** With BENCH_CPU_PROF_DIR set, every Bun process a benchmark starts writes a CPU profile there when it exits. */
export const profileFlags: readonly string[] = process.env.BENCH_CPU_PROF_DIR
  ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR]
  : [];

export interface ProcessUsage {
  cpuSeconds: number;
  peakRssMb: number;
  rssMb: number;
}

/** CPU seconds (user + system) and memory of a live process, from /proc. */
export async function processUsage(pid: number): Promise<ProcessUsage> {
  // node:fs reads procfs files whole; their reported size is 0.
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
  ]);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SEC, peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

/**
 * The same for a process and its children, summed: PostgreSQL's work is done by one backend
 * process per connection, not by the postmaster.
 */
export async function processTreeUsage(pid: number): Promise<ProcessUsage> {
  const children: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(name));
  }
  const all = await Promise.all(
    [pid, ...children].map((p) => processUsage(p).catch(() => ({ cpuSeconds: 0, peakRssMb: 0, rssMb: 0 }))),
  );
  return all.reduce((sum, u) => ({
    cpuSeconds: sum.cpuSeconds + u.cpuSeconds,
    peakRssMb: sum.peakRssMb + u.peakRssMb,
    rssMb: sum.rssMb + u.rssMb,
  }));
}

/** Fills `stream` with `total` readings from 1,000 devices, 10,000 per pipeline; `valueOf(i)` gives each value. */
export async function prefillReadings(
  redis: Redis,
  stream: string,
  total: number,
  valueOf: (index: number) => number,
  /** The i-th reading's time; default when it is written. */
  tsOf: (index: number) => number = () => Date.now(),
): Promise<void> {
  for (let start = 0; start < total; start += 10_000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(total, start + 10_000); i++) {
      pipeline.xadd(
        stream,
        '*',
        ...encodeReading({
          id: newEventId(),
          deviceId: `device-${String(i % 1_000).padStart(4, '0')}`,
          metric: 'kwh',
          value: valueOf(i),
          unit: 'kWh',
          ts: tsOf(i),
        }),
      );
    }
    await pipeline.exec();
  }
}

/**
 * POSTs the bodies `bodies` hands out (undefined: no more) from `clients` clients at once to
 * `url`, each answer checked for status `ok` and read; resolves when all are in.
 */
export async function sendFromClients(
  url: string,
  bodies: () => string | undefined,
  headers: Record<string, string>,
  ok: number,
  clients = 4,
): Promise<void> {
  const client = async () => {
    for (let body = bodies(); body !== undefined; body = bodies()) {
      const response = await fetch(url, { method: 'POST', headers, body });
      if (response.status !== ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
}

/** The API as its own process, as in production. */
export async function spawnApi(options: {
  port: number;
  databaseUrl: string;
  token: string;
  env?: Record<string, string>;
}) {
  const url = `http://127.0.0.1:${options.port}`;
  const child = own(
    Bun.spawn(['bun', ...profileFlags, apiEntry], {
      env: {
        ...process.env,
        PORT: String(options.port),
        HOST: '127.0.0.1',
        DATABASE_URL: options.databaseUrl,
        API_TOKEN: options.token,
        LOG_LEVEL: 'warn',
        ...options.env,
      },
      stdout: 'inherit',
      stderr: 'inherit',
    }),
  );
  await waitFor(
    () =>
      fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    { what: 'API', timeoutMs: 20_000 },
  );
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await child.exited;
    },
  };
}

/**
 * The flags of a one-hop benchmark (bench:store, bench:alert): a drain of `--readings` from a
 * pre-filled stream, then the producer at `--rate` for `--seconds`.
 */
export function parseHopFlags(name: string, measures: string) {
  const { values } = parseCli({
    name,
    usage: `Usage: bun run ${name} [--readings N] [--rate R] [--seconds S]
  ${measures}`,
    options: {
      readings: { type: 'string', default: '500000' },
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '30' },
    },
  });
  return {
    total: cliNumber(name, 'readings', values.readings, { min: 1, integer: true }),
    rate: cliNumber(name, 'rate', values.rate, { min: 1, integer: true }),
    seconds: cliNumber(name, 'seconds', values.seconds, { min: 1, integer: true }),
  };
}

/**
 * Readings `from` to `from + count` of a fleet of 1,000 devices as storage keeps them (for
 * writing straight through the storage port): `tsOf(n)` dates reading n; stored when measured
 * unless `storedAt` says otherwise.
 */
export function fleetRows(from: number, count: number, tsOf: (n: number) => number, storedAt?: number): StoredRow[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const ts = tsOf(n);
    return {
      id: newEventId(ts),
      deviceId: `device-${String(n % 1_000).padStart(4, '0')}`,
      metric: 'kwh',
      value: n % 91,
      unit: 'kWh',
      ts,
      storedAt: storedAt ?? ts,
    };
  });
}
