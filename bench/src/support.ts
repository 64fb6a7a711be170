import { join } from 'node:path';
import { waitFor } from 'core/testing';

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const apiEntry = join(import.meta.dir, '../../api/src/index.ts');

/** The API as its own process, as in production. */
export async function spawnApi(options: { port: number; databaseUrl: string; token: string; env?: Record<string, string> }) {
  const url = `http://127.0.0.1:${options.port}`;
  const profileFlags = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR] : [];
  const child = Bun.spawn(['bun', ...profileFlags, apiEntry], {
    env: { ...process.env, PORT: String(options.port), HOST: '127.0.0.1', DATABASE_URL: options.databaseUrl, API_TOKEN: options.token, LOG_LEVEL: 'warn', ...options.env },
    stdout: 'inherit',
    stderr: 'inherit',
  });
  await waitFor(() => fetch(`${url}/health`).then((r) => r.ok, () => false), { what: 'API', timeoutMs: 20_000 });
  return {
    url,
    pid: child.pid,
    async peakRssMb() {
      const status = await Bun.file(`/proc/${child.pid}/status`).text();
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
    },
    async stop() {
      child.kill('SIGTERM');
      await child.exited;
    },
  };
}
