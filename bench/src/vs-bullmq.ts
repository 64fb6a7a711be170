/**
 * `bun run bench:vs-bullmq`: this pipeline against a BullMQ build of the same job, in one run on
 * this machine, alternating: ours (the throughput scenario: producer → stream → both groups, every
 * reading stored through the API and evaluated for alerts) and BullMQ with 1,000 readings per job
 * and 4 workers' concurrency straight into SQLite (no per-reading retries or alerts), then BullMQ
 * with one job per reading (concurrency 50) on fewer readings. Each run has its own redis-server
 * (AOF everysec) and SQLite file. Prints readings/s, CPU per reading over every process, and the
 * ratio. Flags: --readings N (200,000), --rounds R (2), --per-job-readings M (30,000).
 */
import { cliNumber, parseCli } from 'core';
import { bullmqRun, oursRun, type PeerRun } from './peer-runs.ts';

const { values } = parseCli({
  name: 'bench:vs-bullmq',
  usage: 'Usage: bun run bench:vs-bullmq [--readings N] [--rounds R] [--per-job-readings M]',
  options: {
    readings: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '2' },
    'per-job-readings': { type: 'string', default: '30000' },
  },
});
const positive = (flag: string, raw: unknown) => cliNumber('bench:vs-bullmq', flag, raw, { min: 1, integer: true });
const readings = positive('readings', values.readings);
const rounds = positive('rounds', values.rounds);
const perJobReadings = positive('per-job-readings', values['per-job-readings']);

const runs: PeerRun[] = [];
const ratios: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const mine = await oursRun(readings);
  const theirs = await bullmqRun(readings, 1_000, 4);
  runs.push(mine, theirs);
  ratios.push(mine.perSecond / theirs.perSecond);
  console.error(
    `round ${round}: ours ${Math.round(mine.perSecond)}/s, BullMQ batched ${Math.round(theirs.perSecond)}/s`,
  );
}
runs.push(await bullmqRun(perJobReadings, 1, 50));

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
