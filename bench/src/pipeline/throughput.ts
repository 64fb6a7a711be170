/**
 * Throughput: the producer pushes N readings from 1,000 devices as fast as it can while both
 * groups consume. End to end runs from the first XADD (the first entry id's time) until the last
 * row is committed and the last reading evaluated.
 */
import { entryTimeMs } from 'core';
import { type Measurement, backendLabel, int } from './report.ts';
import { processUsage } from '../support.ts';
import { waitFor } from 'core/testing';
import { type Stack, type StackOptions, startStack } from './stack.ts';

export async function throughputScenario(options: { readings: number; stack?: StackOptions }): Promise<Measurement[]> {
  const { readings } = options;
  const stack = await startStack({ RETAIN_ALERTS: '1000000' }, options.stack);
  try {
    const before = await stack.usage();
    const producer = stack.startProducer({
      COUNT: String(readings),
      RATE: '10000000',
      // Every reading must reach Redis: the buffer holds the whole run.
      MAX_BUFFERED: String(readings),
      // ~2% over the default threshold of 50, as in a healthy fleet.
      VALUE_MIN: '0',
      VALUE_MAX: '51',
    });
    let firstXaddMs = 0;
    let alertsDoneMs = 0;
    let storeDoneMs = 0;
    let producerPeakRssMb = 0;
    await waitFor(
      async () => {
        if (firstXaddMs === 0) firstXaddMs = await firstEntryMs(stack);
        if (producer.child.exitCode === null) {
          // Sampled while it runs: after exit /proc has nothing left to read.
          const usage = await processUsage(producer.pid).catch(() => undefined);
          if (usage && Number.isFinite(usage.peakRssMb))
            producerPeakRssMb = Math.max(producerPeakRssMb, usage.peakRssMb);
        }
        if (alertsDoneMs === 0 && producer.child.exitCode !== null && (await stack.drained(['alerts'])))
          alertsDoneMs = Date.now();
        if (storeDoneMs === 0 && producer.child.exitCode !== null && (await stack.drained(['store'])))
          storeDoneMs = await stack.lastStoredAt();
        return alertsDoneMs > 0 && storeDoneMs > 0;
      },
      { timeoutMs: 600_000, intervalMs: 20, what: `${readings} readings stored and evaluated` },
    );
    const exitCode = await producer.exited;
    if (exitCode !== 0) throw new Error(`producer exited with ${exitCode}: ${producer.output().slice(-2_000)}`);
    // Its CPU time from the exit status (microseconds).
    const resources = producer.child.resourceUsage();
    const producerCpuSeconds = Number((resources?.cpuTime.user ?? 0n) + (resources?.cpuTime.system ?? 0n)) / 1e6;
    const lastXaddMs = await lastEntryMs(stack);
    const after = await stack.usage();
    const redisCommands = parseCommandStats(await stack.redis.info('commandstats'));
    const stored = await stack.stored();
    const rows = stored.rows;
    const duplicates = stored.rows - stored.distinct;
    const endMs = Math.max(alertsDoneMs, storeDoneMs);
    const seconds = (endMs - firstXaddMs) / 1_000;
    const rate = readings / seconds;
    const hop = (doneMs: number) => int(readings / ((doneMs - firstXaddMs) / 1_000));
    const processes: Record<string, { cpuSeconds: number; peakRssMb: number }> = {
      producer: { cpuSeconds: producerCpuSeconds, peakRssMb: producerPeakRssMb },
    };
    for (const [name, usage] of Object.entries(after)) {
      processes[name] = { cpuSeconds: usage.cpuSeconds - (before[name]?.cpuSeconds ?? 0), peakRssMb: usage.peakRssMb };
    }
    const totalCpu = Object.values(processes).reduce((sum, p) => sum + p.cpuSeconds, 0);
    const label = `${int(readings)} readings, 1,000 devices${backendLabel(options.stack)}`;
    const target = options.stack?.backend === 'postgres' ? 40_000 : 50_000;
    return [
      {
        scenario: 'throughput',
        name: `end to end, both groups (${label})`,
        result: `${int(rate)} readings/s (${seconds.toFixed(1)} s); ${int(rows)} rows, ${duplicates} duplicates`,
        target: `≥ ${int(target)} readings/s`,
        met: rate >= target && rows === readings && duplicates === 0,
        data: { readings, seconds, readingsPerSec: rate, rows, duplicates },
      },
      {
        scenario: 'throughput',
        name: 'per hop, from the first XADD',
        result: `producer → Redis ${hop(lastXaddMs)}/s; → stored ${hop(storeDoneMs)}/s; → evaluated ${hop(alertsDoneMs)}/s`,
        data: { lastXaddMs, storeDoneMs, alertsDoneMs, firstXaddMs },
      },
      {
        scenario: 'throughput',
        name: 'CPU seconds / peak RSS per process',
        result: `${Object.entries(processes)
          .map(([name, p]) => `${name} ${p.cpuSeconds.toFixed(1)} s / ${p.peakRssMb.toFixed(0)} MB`)
          .join(
            '; ',
          )}; total ${totalCpu.toFixed(1)} CPU s = ${((totalCpu * 1e6) / readings).toFixed(0)} µs per reading`,
        data: { processes, microsecondsPerReading: (totalCpu * 1e6) / readings },
      },
      {
        scenario: 'throughput',
        name: 'Redis time per command (INFO commandstats)',
        result: redisCommands
          .slice(0, 5)
          .map((c) => `${c.command} ${(c.usec / 1e6).toFixed(2)} s`)
          .join('; '),
        data: { redisCommands },
      },
    ];
  } finally {
    await stack.stop();
  }
}

/** When the first reading reached a partition (0 while none has). */
async function firstEntryMs(stack: Stack): Promise<number> {
  const firsts = await Promise.all(stack.partitions.map((stream) => stack.redis.xrange(stream, '-', '+', 'COUNT', 1)));
  const times = firsts.flatMap((first) => (first[0] ? [entryTimeMs(first[0][0])] : []));
  return times.length > 0 ? Math.min(...times) : 0;
}

/** When the last reading reached its partition. */
async function lastEntryMs(stack: Stack): Promise<number> {
  const lasts = await Promise.all(
    stack.partitions.map((stream) => stack.redis.xrevrange(stream, '+', '-', 'COUNT', 1)),
  );
  const times = lasts.flatMap((last) => (last[0] ? [entryTimeMs(last[0][0])] : []));
  return times.length > 0 ? Math.max(...times) : Date.now();
}

/** `cmdstat_xadd:calls=1,usec=2,...` lines, most expensive first. Commands a script runs count both in their own line and in evalsha's. */
function parseCommandStats(info: string): Array<{ command: string; calls: number; usec: number }> {
  const stats = [];
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.push({ command: match[1] as string, calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats.sort((a, b) => b.usec - a.usec);
}
