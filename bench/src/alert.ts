/**
 * Alert-path benchmark: (1) a stream pre-filled with N readings from 1,000 devices, ~2% of them
 * over the threshold, drained by consumer-alert's evaluating group — readings/s; (2) the producer
 * at a steady rate with the same value spread — detection latency (reading ts → alert written, from
 * the alert's stream entry id). Flags: --readings N (500,000), --rate R (1,000), --seconds S (30).
 */
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
const redisServer = await startRedisServer({ fsync: 'everysec' });
const redis = createRedis(redisServer.url, { name: 'bench' });
const entry = join(root, 'consumer-alert/src/index.ts');
const results: Record<string, string> = {};

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
}

console.log('| alert-path measurement | result |\n|---|---|');
for (const [name, value] of Object.entries(results)) console.log(`| ${name} | ${value} |`);
