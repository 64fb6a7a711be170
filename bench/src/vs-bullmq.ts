/**
 * `bun run bench:vs-bullmq`: this pipeline against a BullMQ build of the same job, in one run on
 * this machine, alternating: ours (the throughput scenario: producer → stream → both groups, every
 * reading stored through the API and evaluated for alerts) and BullMQ with 1,000 readings per job
 * and 4 workers' concurrency straight into SQLite (no per-reading retries or alerts), then BullMQ
 * with one job per reading (concurrency 50) on fewer readings. Each run has its own redis-server
 * (AOF everysec) and SQLite file. Prints readings/s, CPU per reading over every process, and the
 * ratio. Flags: --readings N (200,000), --rounds R (2), --per-job-readings M (30,000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedisServer, startService } from 'core/testing';
import { throughputScenario } from './pipeline/throughput.ts';
import { processUsage } from './support.ts';

const { values } = parseArgs({
  options: {
    readings: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '2' },
    'per-job-readings': { type: 'string', default: '30000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: bun run bench:vs-bullmq [--readings N] [--rounds R] [--per-job-readings M]');
  process.exit(0);
}
const positive = (name: string, raw: string) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`vs-bullmq: --${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
};
const readings = positive('readings', values.readings as string);
const rounds = positive('rounds', values.rounds as string);
const perJobReadings = positive('per-job-readings', values['per-job-readings'] as string);

interface Run {
  system: string;
  readings: number;
  perSecond: number;
  microsecondsPerReading: number;
  /** CPU seconds per process. */
  split: string;
}

const cpuSeconds = (child: { resourceUsage(): { cpuTime: { user: bigint; system: bigint } } | undefined }) => {
  const usage = child.resourceUsage();
  return Number((usage?.cpuTime.user ?? 0n) + (usage?.cpuTime.system ?? 0n)) / 1e6;
};

async function ours(): Promise<Run> {
  const measured = await throughputScenario({ readings });
  const end = measured[0]?.data as { readingsPerSec: number };
  const cpu = measured.find((m) => m.name.startsWith('CPU'))?.data as {
    microsecondsPerReading: number;
    processes: Record<string, { cpuSeconds: number }>;
  };
  const split = Object.entries(cpu.processes)
    .map(([name, usage]) => `${name} ${usage.cpuSeconds.toFixed(1)}`)
    .join(', ');
  return {
    system: 'this pipeline (frames; stored via the API + alerts evaluated)',
    readings,
    perSecond: end.readingsPerSec,
    microsecondsPerReading: cpu.microsecondsPerReading,
    split,
  };
}

async function bullmq(count: number, perJob: number, concurrency: number): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'vs-bullmq-'));
  const redisServer = await startRedisServer({ fsync: 'everysec' });
  try {
    const redisBefore = await processUsage(redisServer.pid);
    const env = { REDIS_URL: redisServer.url, LOG_LEVEL: 'warn' };
    const worker = startService(join(import.meta.dir, 'bullmq/worker.ts'), {
      ...env,
      DATABASE_PATH: join(dir, 'bullmq.db'),
      EXPECT: String(count),
      CONCURRENCY: String(concurrency),
    });
    await Bun.sleep(1_000);
    const producer = startService(join(import.meta.dir, 'bullmq/producer.ts'), {
      ...env,
      READINGS: String(count),
      PER_JOB: String(perJob),
    });
    const workerExit = await worker.exited;
    if (workerExit !== 0) throw new Error(`BullMQ worker exited with ${workerExit}: ${worker.output().slice(-2_000)}`);
    await producer.exited;
    const started = producer.events('started')[0]?.at as number;
    const stored = worker.events('stored')[0]?.at as number;
    const redisCpu = (await processUsage(redisServer.pid)).cpuSeconds - redisBefore.cpuSeconds;
    const [workerCpu, producerCpu] = [cpuSeconds(worker.child), cpuSeconds(producer.child)];
    const totalCpu = workerCpu + producerCpu + redisCpu;
    return {
      system:
        perJob === 1
          ? `BullMQ, one job per reading, concurrency ${concurrency}`
          : `BullMQ, ${perJob.toLocaleString()} readings per job, concurrency ${concurrency}, into SQLite`,
      readings: count,
      perSecond: count / ((stored - started) / 1_000),
      microsecondsPerReading: (totalCpu * 1e6) / count,
      split: `producer ${producerCpu.toFixed(1)}, redis ${redisCpu.toFixed(1)}, worker ${workerCpu.toFixed(1)}`,
    };
  } finally {
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const runs: Run[] = [];
const ratios: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const mine = await ours();
  const theirs = await bullmq(readings, 1_000, 4);
  runs.push(mine, theirs);
  ratios.push(mine.perSecond / theirs.perSecond);
  console.error(
    `round ${round}: ours ${Math.round(mine.perSecond)}/s, BullMQ batched ${Math.round(theirs.perSecond)}/s`,
  );
}
runs.push(await bullmq(perJobReadings, 1, 50));

console.log(
  '| system | readings | readings/s | CPU per reading (all processes) | CPU seconds per process |\n|---|---|---|---|---|',
);
for (const run of runs)
  console.log(
    `| ${run.system} | ${run.readings.toLocaleString()} | ${Math.round(run.perSecond).toLocaleString()} | ${run.microsecondsPerReading.toFixed(1)} µs | ${run.split} |`,
  );
console.log(
  `\nratio, end to end, this pipeline / BullMQ batched, per round: ${ratios.map((r) => `${r.toFixed(2)}×`).join(', ')} (target ≥ 1.5×)`,
);
