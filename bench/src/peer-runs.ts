/**
 * One run of each system the peer benchmarks compare (vs-peers.ts, vs-bullmq.ts): this pipeline,
 * the BullMQ build and the NATS JetStream build of the same job, each with its own servers and
 * SQLite file. CPU is counted over every process, servers included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, startService } from 'core/testing';
import { connect, StorageType } from 'nats';
import { startNatsServer } from './nats/server.ts';
import { throughputScenario } from './pipeline/throughput.ts';
import { processUsage } from './support.ts';

export interface PeerRun {
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

export async function oursRun(readings: number): Promise<PeerRun> {
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

/** A peer's producer and worker: started, awaited, timed by their `started` and `stored` events. */
async function peerProcesses(
  dir: string,
  server: { name: string; pid: number },
  files: { producer: string; worker: string },
  env: Record<string, string>,
  count: number,
) {
  const serverBefore = await processUsage(server.pid);
  const worker = startService(join(import.meta.dir, files.worker), {
    ...env,
    DATABASE_PATH: join(dir, 'peer.db'),
    EXPECT: String(count),
  });
  await Bun.sleep(1_000);
  const producer = startService(join(import.meta.dir, files.producer), { ...env, READINGS: String(count) });
  const workerExit = await worker.exited;
  if (workerExit !== 0)
    throw new Error(`the peer's worker exited with ${workerExit}: ${worker.output().slice(-2_000)}`);
  await producer.exited;
  const started = producer.events('started')[0]?.at as number;
  const stored = worker.events('stored')[0]?.at as number;
  const serverCpu = (await processUsage(server.pid)).cpuSeconds - serverBefore.cpuSeconds;
  const [workerCpu, producerCpu] = [cpuSeconds(worker.child), cpuSeconds(producer.child)];
  return {
    perSecond: count / ((stored - started) / 1_000),
    microsecondsPerReading: ((workerCpu + producerCpu + serverCpu) * 1e6) / count,
    split: `producer ${producerCpu.toFixed(1)}, ${server.name} ${serverCpu.toFixed(1)}, worker ${workerCpu.toFixed(1)}`,
  };
}

export async function bullmqRun(count: number, perJob: number, concurrency: number): Promise<PeerRun> {
  const dir = await mkdtemp(join(tmpdir(), 'vs-peers-bullmq-'));
  const redisServer = await startRedisServer({ fsync: 'everysec', cluster: false });
  try {
    const measured = await peerProcesses(
      dir,
      { name: 'redis', pid: redisServer.pid },
      { producer: 'bullmq/producer.ts', worker: 'bullmq/worker.ts' },
      { REDIS_URL: redisServer.url, LOG_LEVEL: 'warn', PER_JOB: String(perJob), CONCURRENCY: String(concurrency) },
      count,
    );
    return {
      system:
        perJob === 1
          ? `BullMQ, one job per reading, concurrency ${concurrency}`
          : `BullMQ, ${perJob.toLocaleString()} readings per job, concurrency ${concurrency}, into SQLite`,
      readings: count,
      ...measured,
    };
  } finally {
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function natsRun(count: number, perMessage: number): Promise<PeerRun> {
  const dir = await mkdtemp(join(tmpdir(), 'vs-peers-jetstream-'));
  const natsServer = await startNatsServer();
  try {
    const nc = await connect({ servers: natsServer.url });
    await (await nc.jetstreamManager()).streams.add({
      name: 'READINGS',
      subjects: ['readings'],
      storage: StorageType.File,
    });
    await nc.close();
    const measured = await peerProcesses(
      dir,
      { name: 'nats-server', pid: natsServer.pid },
      { producer: 'nats/producer.ts', worker: 'nats/worker.ts' },
      { NATS_URL: natsServer.url, PER_MESSAGE: String(perMessage), BATCH: '20' },
      count,
    );
    return {
      system: `NATS JetStream, ${perMessage.toLocaleString()} readings per message, pull consumer, arrivals in one transaction`,
      readings: count,
      ...measured,
    };
  } finally {
    await natsServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
