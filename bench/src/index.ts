/**
 * `bun run bench`: the whole pipeline measured on this machine. Each scenario starts its own
 * redis-server (AOF everysec), API (fresh SQLite, WAL) and consumers on free ports, so scenarios
 * do not disturb one another. Prints a markdown table and writes the numbers as JSON to
 * bench/results/. Run it on an otherwise idle machine.
 */
import { mkdir } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { apiScenario } from './pipeline/api.ts';
import { failoverScenario } from './pipeline/failover.ts';
import { idleScenario } from './pipeline/idle.ts';
import { latencyScenario } from './pipeline/latency.ts';
import { liveStreamsScenario } from './pipeline/live-streams.ts';
import { type Measurement, markdownTable } from './pipeline/report.ts';
import { type Backend, type StackOptions } from './pipeline/stack.ts';
import { historyScenario } from './pipeline/history.ts';
import { throughputScenario } from './pipeline/throughput.ts';

const USAGE = `Usage: bun run bench [flags]
  --scenarios LIST    comma-separated: throughput,latency,api,live,idle,history,failover (default all
                      but history and failover)
  --readings N        throughput: readings to push (default 500000)
  --rates LIST        latency: steady rates in readings/s (default 1000,20000)
  --seconds S         latency: seconds per rate (default 30)
  --api-rows N        api: rows in the table before measuring (default 1000000)
  --api-seconds S     api: seconds of latest-100 load (default 5)
  --connections N     api: concurrent connections (default 50)
  --backend NAME      sqlite (default), postgres (a server of the run's own), or both
  --api-instances LIST throughput and latency: API instances, e.g. 1,2,3 (past 1: PostgreSQL only)
  --ha                throughput and latency also with a Redis primary, two replicas and three
                      Sentinels (REDIS_MIN_REPLICAS 1), beside the single Redis
  --cluster           throughput with the readings in 1, 4 and 8 partitions (STREAM_PARTITIONS) on one
                      Redis and on a Redis Cluster of three masters and three replicas, and with 1, 2
                      and 3 consumer-alert instances sharing 8 partitions (instead of the stacks above)
  --stalled N         live: SSE clients that never read (default 1000)
  --readers N         live: SSE clients that read every reading (default 100)
  --live-seconds S    live: seconds of ingest at 5,000 readings/s (default 30)
  --history-readings N history: readings over 30 days, written straight into storage (default 20000000)
  --history-dir DIR   history (SQLite): keep the generated database in DIR and use it again in a
                      later run with the same N (the live phase's writes stay in it)
  --history-compress  history (SQLite): compress every day but the last into chunks before
                      measuring (bytes counted after), and run the API with COMPRESS_AFTER_HOURS`;

const SCENARIOS = ['throughput', 'latency', 'api', 'live', 'idle', 'history', 'failover'] as const;
/** Long (it writes 20M rows first): run when asked for. */
const BY_DEFAULT = SCENARIOS.filter((scenario) => scenario !== 'history' && scenario !== 'failover');

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench: --${name} must be a positive integer, got ${JSON.stringify(raw)} (see --help)`);
    process.exit(2);
  }
  return value;
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: BY_DEFAULT.join(',') },
      'history-readings': { type: 'string', default: '20000000' },
      'history-dir': { type: 'string' },
      'history-compress': { type: 'boolean', default: false },
      readings: { type: 'string', default: '500000' },
      rates: { type: 'string', default: '1000,20000' },
      seconds: { type: 'string', default: '30' },
      'api-rows': { type: 'string', default: '1000000' },
      'api-seconds': { type: 'string', default: '5' },
      connections: { type: 'string', default: '50' },
      backend: { type: 'string', default: 'sqlite' },
      'api-instances': { type: 'string', default: '1' },
      ha: { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
      stalled: { type: 'string', default: '1000' },
      readers: { type: 'string', default: '100' },
      'live-seconds': { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  console.error(`bench: ${(error as Error).message.split('. ')[0]} (see --help)`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const str = (name: string) => String(values[name]);
const chosen = str('scenarios')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = chosen.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
if (unknown.length > 0) {
  console.error(`--scenarios: unknown ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  process.exit(2);
}
const rates = str('rates')
  .split(',')
  .map((r) => positiveInt('rates', r.trim()));
const readings = positiveInt('readings', str('readings'));
const seconds = positiveInt('seconds', str('seconds'));
const apiRows = positiveInt('api-rows', str('api-rows'));
const apiSeconds = positiveInt('api-seconds', str('api-seconds'));
const connections = positiveInt('connections', str('connections'));
const backendFlag = str('backend');
if (!['sqlite', 'postgres', 'both'].includes(backendFlag)) {
  console.error(`bench: --backend must be sqlite, postgres or both, got ${JSON.stringify(backendFlag)} (see --help)`);
  process.exit(2);
}
const backends: Backend[] = backendFlag === 'both' ? ['sqlite', 'postgres'] : [backendFlag as Backend];
const apiInstances = str('api-instances')
  .split(',')
  .map((n) => positiveInt('api-instances', n.trim()));
/** Each backend, and on PostgreSQL each number of API instances (SQLite has one writer: one instance). */
const singleRedis: StackOptions[] = backends.flatMap((backend): StackOptions[] =>
  backend === 'postgres' ? apiInstances.map((instances) => ({ backend, apiInstances: instances })) : [{ backend }],
);
/** With --ha, each also with Redis replicated and behind Sentinels, right after the single-Redis run. */
const haStacks: StackOptions[] = values.ha
  ? singleRedis.flatMap((stack) => [stack, { ...stack, ha: true }])
  : singleRedis;
/** With --cluster: partitions on one Redis and on a cluster, then consumer-alert instances sharing them. */
const clusterStacks: StackOptions[] = [
  ...[1, 4, 8].map((partitions) => ({ partitions })),
  ...[1, 4, 8].map((partitions) => ({ partitions, cluster: true })),
  ...[2, 3].map((alertInstances) => ({ partitions: 8, alertInstances })),
];
const stacks = values.cluster ? clusterStacks : haStacks;
const stalled = positiveInt('stalled', str('stalled'));
const readers = positiveInt('readers', str('readers'));
const liveSeconds = positiveInt('live-seconds', str('live-seconds'));

const measurements: Measurement[] = [];
const runs: Record<string, () => Promise<Measurement[]>> = {
  throughput: async () => {
    const all: Measurement[] = [];
    for (const stack of stacks) all.push(...(await throughputScenario({ readings, stack })));
    return all;
  },
  latency: async () => {
    const all: Measurement[] = [];
    for (const stack of stacks)
      for (const rate of rates) all.push(...(await latencyScenario({ rate, seconds, stack })));
    return all;
  },
  api: async () => {
    const all: Measurement[] = [];
    for (const backend of backends)
      all.push(...(await apiScenario({ rows: apiRows, seconds: apiSeconds, connections, backend })));
    return all;
  },
  live: () => liveStreamsScenario({ stalled, readers, seconds: liveSeconds }),
  idle: () => idleScenario(),
  failover: () => failoverScenario(),
  history: async () => {
    const all: Measurement[] = [];
    for (const backend of backends)
      all.push(
        ...(await historyScenario({
          readings: positiveInt('history-readings', str('history-readings')),
          backend,
          keepDir: values['history-dir'] as string | undefined,
          compress: values['history-compress'] === true,
        })),
      );
    return all;
  },
};
for (const scenario of SCENARIOS) {
  if (!chosen.includes(scenario)) continue;
  console.error(`running ${scenario}…`);
  const results = await (runs[scenario] as () => Promise<Measurement[]>)();
  measurements.push(...results);
  for (const m of results) console.error(`  ${m.name}: ${m.result}`);
}

const redisVersion = (await Bun.$`redis-server --version`.quiet().nothrow()).stdout.toString().match(/v=(\S+)/)?.[1];
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  bun: Bun.version,
  redis: redisVersion,
  platform: `${process.platform} ${process.arch}`,
};
const startedAt = new Date().toISOString();
const dir = join(import.meta.dir, '../results');
await mkdir(dir, { recursive: true });
const file = join(dir, `${startedAt.replaceAll(':', '-')}.json`);
await Bun.write(file, `${JSON.stringify({ startedAt, machine, flags: values, measurements }, null, 2)}\n`);

console.log(
  `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Bun ${machine.bun}, Redis ${machine.redis}\n`,
);
console.log(markdownTable(measurements));
console.log(`\nJSON: ${file}`);
const missed = measurements.filter((m) => m.met === false);
if (missed.length > 0) console.log(`\nTargets not met: ${missed.map((m) => m.name).join('; ')}`);
