/**
 * Absence sweep benchmark: consumer-alert with one absence rule (silentForMs 25 s, a sweep a
 * second) watching N devices (default 100,000) that each report once, within about a second, and
 * then all stop. Measures (1) the CPU of sweeps that find no one silent — consumer-alert's and
 * Redis's per second, idle with nothing watched and then with every device watched and within its
 * silentForMs: the cost paid every second while nothing is wrong — and (2) the detection delay:
 * when each silence was written (its alert's stream entry) less when the device became silent (its
 * newest reading's arrival + silentForMs), over all N silences raised at once.
 * Flags: --devices N, --silent-for-ms MS.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { alertKeys, createRedis, decodeAlert, encodeReading, entryTimeMs, newEventId } from 'core';
import { startRedisServer, startService } from 'core/testing';
import { formatLatency, summarize } from './pipeline/report.ts';
import { processUsage } from './support.ts';

const { values } = parseArgs({ options: { devices: { type: 'string' }, 'silent-for-ms': { type: 'string' } } });
const devices = Number(values.devices ?? 100_000);
const SILENT_FOR_MS = Number(values['silent-for-ms'] ?? 25_000);
const root = join(import.meta.dir, '../..');
const dir = await mkdtemp(join(tmpdir(), 'bench-absence-'));
const rulesFile = join(dir, 'rules.json');
await writeFile(
  rulesFile,
  JSON.stringify([
    { id: 'default', threshold: 1_000 },
    { kind: 'absence', id: 'quiet', silentForMs: SILENT_FOR_MS },
  ]),
);
const server = await startRedisServer({ fsync: 'everysec', cluster: false });
const redis = createRedis(server.url, { name: 'bench' });
const redisCpuSeconds = async () => {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
};
const results: Record<string, string> = {};
const alerting = startService(join(root, 'consumer-alert/src/index.ts'), {
  REDIS_URL: server.url,
  ALERT_RULES: rulesFile,
  ALERT_RULES_POLL_MS: '1000',
  LOG_LEVEL: 'warn',
});
/** consumer-alert's and Redis's CPU per second (ms) over `ms` from now. */
const cpuPerSecond = async (ms: number) => {
  const [processBefore, redisBefore, from] = [await processUsage(alerting.pid), await redisCpuSeconds(), Date.now()];
  await Bun.sleep(ms);
  const seconds = (Date.now() - from) / 1_000;
  const processCpu = (await processUsage(alerting.pid)).cpuSeconds - processBefore.cpuSeconds;
  return {
    seconds,
    process: (processCpu / seconds) * 1_000,
    redis: (((await redisCpuSeconds()) - redisBefore) / seconds) * 1_000,
  };
};
try {
  await Bun.sleep(2_000);
  const idle = await cpuPerSecond(4_000);
  results['consumer-alert idle, nothing watched (a sweep a second, heartbeat and rule checks)'] =
    `consumer-alert ${idle.process.toFixed(1)} ms/s, Redis ${idle.redis.toFixed(1)} ms/s`;
  // Every device once, as fast as Redis takes them.
  for (let start = 0; start < devices; start += 5_000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(devices, start + 5_000); i++)
      pipeline.xadd(
        'readings',
        '*',
        ...encodeReading({
          id: newEventId(),
          deviceId: `device-${i}`,
          metric: 'kwh',
          value: 1,
          unit: 'kWh',
          ts: Date.now(),
        }),
      );
    await pipeline.exec();
  }
  const reported = Date.now();
  while ((await redis.zcard(alertKeys(redis, 'alerts').absence('quiet').watch)) < devices) await Bun.sleep(100);
  results[`${devices.toLocaleString()} devices reported once`] = `watched within ${Date.now() - reported} ms`;

  // Sweeps that find no one silent: from 5 s after the reports (their evaluation done) until 2 s
  // before the first silence.
  await Bun.sleep(5_000);
  const watching = await cpuPerSecond(Math.max(0, reported + SILENT_FOR_MS - 2_000 - Date.now()));
  results[`the same, ${devices.toLocaleString()} watched and none silent (${watching.seconds.toFixed(1)} s)`] =
    `consumer-alert ${watching.process.toFixed(1)} ms/s, Redis ${watching.redis.toFixed(1)} ms/s`;

  // Every device goes silent 5 s after its reading: all N silences at once.
  while ((await redis.xlen('alerts')) < devices) await Bun.sleep(200);
  const silences = (await redis.xrange('alerts', '-', '+')).map(([entryId, fields]) => ({
    written: entryTimeMs(entryId),
    alert: decodeAlert(fields),
  }));
  const delays = silences.map(({ written, alert }) => written - alert.ts);
  results[`detection delay past silentForMs, ${devices.toLocaleString()} silences at once (a sweep a second)`] =
    formatLatency(summarize(delays));
  results['alerts raised'] = `${silences.length.toLocaleString()} (one per device)`;
} finally {
  await alerting.kill('SIGTERM');
  redis.disconnect();
  await server.stop();
}
for (const [name, value] of Object.entries(results)) console.log(`${name}: ${value}`);
