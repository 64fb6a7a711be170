/**
 * `bun run bench:vs-peers`: this pipeline against the peers a user would build the same job with,
 * in one run on this machine, alternating, each system with its own servers and SQLite file:
 * - this pipeline: the throughput scenario (producer → stream → both groups, every reading stored
 *   through the API and evaluated for alerts; redis-server with AOF everysec);
 * - BullMQ: 1,000 readings per job, 4 workers' concurrency, one transaction per job (no alerts);
 * - NATS JetStream (Debian's nats-server, file storage): 1,000 readings per message, publish acks,
 *   a durable pull consumer, everything that arrived together (up to 20 messages) in one SQLite
 *   transaction, acked after the commit (no alerts).
 * Prints readings/s, CPU per reading over every process (servers included) and the ratios.
 * Flags: --readings N (200,000), --rounds R (2).
 */
import { cliNumber, parseCli } from 'core';
import { bullmqRun, natsRun, oursRun, type PeerRun } from './peer-runs.ts';

const { values } = parseCli({
  name: 'bench:vs-peers',
  usage: 'Usage: bun run bench:vs-peers [--readings N] [--rounds R]',
  options: { readings: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '2' } },
});
const readings = cliNumber('bench:vs-peers', 'readings', values.readings, { min: 1, integer: true });
const rounds = cliNumber('bench:vs-peers', 'rounds', values.rounds, { min: 1, integer: true });

const runs: PeerRun[] = [];
const ratios: Array<{ bullmq: number; nats: number }> = [];
for (let round = 1; round <= rounds; round++) {
  const mine = await oursRun(readings);
  const bull = await bullmqRun(readings, 1_000, 4);
  const jet = await natsRun(readings, 1_000);
  runs.push(mine, bull, jet);
  ratios.push({ bullmq: mine.perSecond / bull.perSecond, nats: mine.perSecond / jet.perSecond });
  console.error(
    `round ${round}: ours ${Math.round(mine.perSecond)}/s, BullMQ ${Math.round(bull.perSecond)}/s, JetStream ${Math.round(jet.perSecond)}/s`,
  );
}

console.log(
  '| system | readings | readings/s | CPU per reading (all processes) | CPU seconds per process |\n|---|---|---|---|---|',
);
for (const run of runs)
  console.log(
    `| ${run.system} | ${run.readings.toLocaleString()} | ${Math.round(run.perSecond).toLocaleString()} | ${run.microsecondsPerReading.toFixed(1)} µs | ${run.split} |`,
  );
const list = (pick: (r: { bullmq: number; nats: number }) => number) =>
  ratios.map((r) => `${pick(r).toFixed(2)}×`).join(', ');
console.log(`\nthis pipeline / NATS JetStream, per round: ${list((r) => r.nats)} (target ≥ 1.5×)`);
console.log(`this pipeline / BullMQ, per round: ${list((r) => r.bullmq)} (target ≥ 2×)`);
