/**
 * Alert-path benchmark: (1) a stream pre-filled with N readings from 1,000 devices, ~2% of them
 * over the threshold, drained by consumer-alert's evaluating group — readings/s — with 1, 2 and 3
 * instances, and with 1 instance evaluating a threshold rule and a window rule (each device
 * reporting once a second, a minute's mean every 10 s) against the threshold rule alone on the
 * same readings; (2) the producer
 * at a steady rate with the same value spread — detection latency (reading ts → alert written, from
 * the alert's stream entry id). Flags: --readings N (500,000), --rate R (1,000), --seconds S (30).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, decodeAlert, entryTimeMs, groupsCaughtUp } from 'core';
import { startRedisServer, startService } from 'core/testing';
import { formatLatency, summarize } from './pipeline/report.ts';
import { parseHopFlags, prefillReadings, processUsage } from './support.ts';

const { total, rate, seconds } = parseHopFlags(
  'bench:alert',
  `Drains N readings (default 500,000) through consumer-alert's evaluation (readings/s), then runs
  the producer at R readings/s (default 1,000) for S seconds (default 30): detection latency.`,
);
const root = join(import.meta.dir, '../..');
const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
const redis = createRedis(redisServer.url, { name: 'bench' });
const entry = join(root, 'consumer-alert/src/index.ts');
const results: Record<string, string> = {};
const rulesDir = mkdtempSync(join(tmpdir(), 'bench-alert-rules-'));

/** A rules file with the default threshold rule, and `more`. */
function rulesFile(name: string, more: object[]): string {
  const path = join(rulesDir, `${name}.json`);
  writeFileSync(path, JSON.stringify([{ id: 'default', threshold: 50 }, ...more]));
  return path;
}

/**
 * The readings/s of one instance draining N readings from 1,000 devices each reporting once a
 * second (the last ones 10 s ago), with the rules at `rulesPath`.
 */
async function drainOnce(name: string, rulesPath: string): Promise<string> {
  const stream = `bench-alert-${name}`;
  const alertsStream = `bench-alerts-${name}`;
  const first = Date.now() - (Math.ceil(total / 1_000) + 10) * 1_000;
  await prefillReadings(
    redis,
    stream,
    total,
    () => (Math.random() < 0.02 ? 75 : 20 + Math.random() * 20),
    (i) => first + Math.floor(i / 1_000) * 1_000,
  );
  const redisBefore = (await processUsage(redisServer.pid)).cpuSeconds;
  const started = performance.now();
  const drain = startService(entry, {
    REDIS_URL: redisServer.url,
    READINGS_STREAM: stream,
    ALERTS_STREAM: alertsStream,
    ALERT_RULES: rulesPath,
    LOG_LEVEL: 'warn',
  });
  await Bun.sleep(200);
  while (!(await groupsCaughtUp(redis, stream, ['alerts']))) await Bun.sleep(200);
  const elapsed = (performance.now() - started) / 1_000;
  const perReading = (cpuSeconds: number) => `${((cpuSeconds * 1e6) / total).toFixed(1)} µs`;
  const cpu = `consumer-alert ${perReading((await processUsage(drain.pid)).cpuSeconds)}, Redis ${perReading((await processUsage(redisServer.pid)).cpuSeconds - redisBefore)} a reading`;
  await drain.kill('SIGTERM');
  return `${Math.round(total / elapsed).toLocaleString()} readings/s (${elapsed.toFixed(1)} s, incl. process start; ${cpu}); ${(await redis.xlen(alertsStream)).toLocaleString()} alerts`;
}

try {
  // One instance evaluates at a time (the lease); the others stand by: 2 and 3 show what standbys cost.
  for (const instances of [1, 2, 3]) {
    const stream = `bench-alert-drain-${instances}`;
    const alertsStream = `bench-alerts-drain-${instances}`;
    await prefillReadings(redis, stream, total, () => (Math.random() < 0.02 ? 75 : 20));
    const started = performance.now();
    const drains = Array.from({ length: instances }, (_, index) =>
      startService(entry, {
        REDIS_URL: redisServer.url,
        READINGS_STREAM: stream,
        ALERTS_STREAM: alertsStream,
        CONSUMER_NAME: `bench-${index + 1}`,
        LOG_LEVEL: 'warn',
      }),
    );
    await Bun.sleep(200);
    while (!(await groupsCaughtUp(redis, stream, ['alerts']))) await Bun.sleep(200);
    const elapsed = (performance.now() - started) / 1_000;
    results[`alert path, ${instances} instance(s): ${total.toLocaleString()} pre-filled readings (~2% over 50)`] =
      `${Math.round(total / elapsed).toLocaleString()} readings/s (${elapsed.toFixed(1)} s, incl. process start); ${(await redis.xlen(alertsStream)).toLocaleString()} alerts`;
    if (instances === 1)
      results['consumer-alert peak RSS while draining'] =
        `${(await processUsage(drains[0]?.pid as number)).peakRssMb.toFixed(0)} MB`;
    for (const drain of drains) await drain.kill('SIGTERM');
  }

  const thresholdOnly = rulesFile('threshold', []);
  const withWindow = rulesFile('window', [
    { kind: 'window', id: 'mean-high', aggregate: 'mean', windowMs: 60_000, stepMs: 10_000, threshold: 31.5 },
  ]);
  results['alert path, 1 instance, threshold rule (readings 1/s per device)'] = await drainOnce(
    'threshold',
    thresholdOnly,
  );
  results['alert path, 1 instance, threshold + window rule (mean over 60 s every 10 s)'] = await drainOnce(
    'window',
    withWindow,
  );

  const steady = startService(entry, {
    REDIS_URL: redisServer.url,
    READINGS_STREAM: 'bench-alert-steady',
    ALERTS_STREAM: 'bench-alerts-2',
    LOG_LEVEL: 'warn',
  });
  await Bun.sleep(1_000);
  results['consumer-alert idle RSS'] = `${(await processUsage(steady.pid)).rssMb.toFixed(0)} MB`;
  const producer = startService(join(root, 'producer/src/index.ts'), {
    REDIS_URL: redisServer.url,
    READINGS_STREAM: 'bench-alert-steady',
    DEVICES: '1000',
    RATE: String(rate),
    COUNT: String(rate * seconds),
    VALUE_MIN: '0',
    VALUE_MAX: '51',
    // Uniform over 0..51: ~2% of readings over the threshold, as every earlier run measured.
    PATTERN: 'uniform',
    LOG_LEVEL: 'warn',
  });
  await producer.exited;
  await Bun.sleep(1_000);
  const alerts = await redis.xrange('bench-alerts-2', '-', '+');
  const latencies = alerts.map(([entryId, fields]) => entryTimeMs(entryId) - decodeAlert(fields).ts);
  results[`detection latency at ${rate.toLocaleString()}/s for ${seconds} s (ts → alert written)`] = formatLatency(
    summarize(latencies),
  );
  await steady.kill('SIGTERM');
} finally {
  redis.disconnect();
  await redisServer.stop();
  rmSync(rulesDir, { recursive: true, force: true });
}

console.log('| alert-path measurement | result |\n|---|---|');
for (const [name, value] of Object.entries(results)) console.log(`| ${name} | ${value} |`);
