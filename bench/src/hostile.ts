/**
 * Hostile uploads against a real API process (own Redis, SQLite, import folder): a 10 GB gzip
 * bomb (10 MB sent), a CSV with one 1 GB line, and a CSV line of 100,000 columns. For each: how
 * the job ended, the API's peak RSS (VmHWM), the longest /health answer while it ran (polled every
 * 50 ms: the event loop's stall as a client sees it), and the time to the job's end.
 * Flags: --line-mb N (default 1024).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cliNumber, parseCli } from 'core';
import { freePort, startRedisServer } from 'core/testing';
import { processUsage, spawnApi } from './support.ts';

const { values } = parseCli({
  name: 'bench:hostile',
  usage: `Usage: bun run --cwd bench hostile [--line-mb N]
  Uploads a 10 GB gzip bomb, a CSV with one N MB line (default 1024) and a 100,000-column line
  to a real API: how each job ended, the API's peak RSS, the longest /health answer meanwhile.`,
  options: { 'line-mb': { type: 'string' } },
});
const lineMb =
  values['line-mb'] === undefined
    ? 1_024
    : cliNumber('bench:hostile', 'line-mb', values['line-mb'], { min: 1, integer: true });
const TOKEN = 'bench-hostile-token';

const dir = await mkdtemp(join(tmpdir(), 'bench-hostile-'));
const redis = await startRedisServer({ appendOnly: false, cluster: false });
const api = await spawnApi({
  port: await freePort(),
  databaseUrl: join(dir, 'telemetry.db'),
  token: TOKEN,
  env: { REDIS_URL: redis.url, IMPORT_DIR: join(dir, 'imports'), EXPECTED_WORKERS: '' },
});

/** Uploads `body`, then follows the job to its end while timing /health; the figures. */
async function hostile(name: string, body: BodyInit) {
  const started = performance.now();
  let slowestHealthMs = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const asked = performance.now();
      await fetch(`${api.url}/health`).then((r) => r.arrayBuffer());
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - asked);
      await Bun.sleep(50);
    }
  })();
  const accepted = await fetch(`${api.url}/imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body,
  });
  const job = (await accepted.json()) as { id: string };
  let state: {
    state: string;
    error?: string;
    badRows: number;
    published: number;
    badSamples: Array<{ reason: string }>;
  };
  for (;;) {
    state = (await (await fetch(`${api.url}/imports/${job.id}`)).json()) as typeof state;
    if (!['queued', 'running'].includes(state.state)) break;
    await Bun.sleep(100);
  }
  polling = false;
  await poller;
  const usage = await processUsage(api.pid);
  console.log(
    `| ${name} | ${accepted.status} → ${state.state}${state.error ? ` (${state.error.slice(0, 80)})` : ''}; ${state.published} published, ${state.badRows} bad${state.badSamples[0] ? ` (${state.badSamples[0].reason.slice(0, 50)})` : ''} | ${Math.round(usage.peakRssMb)} MB | ${Math.round(slowestHealthMs)} ms | ${((performance.now() - started) / 1_000).toFixed(1)} s |`,
  );
}

try {
  console.log(`API peak RSS at start: ${Math.round((await processUsage(api.pid)).peakRssMb)} MB`);
  console.log("| input | answer → job | API peak RSS (VmHWM, so far) | slowest /health meanwhile | to the job's end |");
  console.log('|---|---|---|---|---|');
  const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  await hostile(
    'gzip bomb: 10 GiB of NUL bytes in 160 gzip members (10 MB)',
    new Uint8Array(Buffer.concat(Array.from({ length: 160 }, () => member))),
  );

  const header = 'deviceId,metric,value,unit,ts\n';
  const good = (i: number) => `pump-${i},kwh,${i},kWh,${1_764_000_000_000 + i}\n`;
  const longLine = join(dir, 'long-line.csv');
  const writer = Bun.file(longLine).writer();
  writer.write(`${header}${good(1)}`);
  const mb = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < lineMb; i++) writer.write(mb);
  writer.write(`\n${good(2)}`);
  await writer.end();
  await hostile(`CSV with one ${lineMb} MB line between two good rows`, Bun.file(longLine));
  await rm(longLine);

  await hostile('CSV line of 100,000 columns', `${header}${good(3)}${'1,'.repeat(100_000)}\n${good(4)}`);
} finally {
  await api.stop();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
