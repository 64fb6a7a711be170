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
import { parseArgs } from 'node:util';
import { bullmqRun, natsRun, oursRun, type PeerRun } from './peer-runs.ts';

const { values } = parseArgs({
  options: {
    readings: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: bun run bench:vs-peers [--readings N] [--rounds R]');
  process.exit(0);
}
const positive = (name: string, raw: string) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`vs-peers: --${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
};
const readings = positive('readings', values.readings as string);
const rounds = positive('rounds', values.rounds as string);

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
