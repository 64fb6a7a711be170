/**
 * The whole pipeline as real processes for fault scenarios: redis-server (AOF), the API on a
 * SQLite file (or one or two instances on a PostgreSQL server of the run's own), consumer-store,
 * consumer-alert, and the producer replaying a known file while keeping a CSV of what Redis
 * acknowledged. Any process can be killed with SIGKILL and started again. After the faults,
 * `history()` gathers what the checker needs, reading storage through the API as a user would.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Alert,
  type Reading,
  commonSettings,
  createRedis,
  decodeAlert,
  groupsCaughtUp,
  loadConfig,
  newEventId,
  readGroups,
  readingStreams,
  redisTargetOf,
  withShortConnection,
  streamKeys,
} from 'core';
import {
  type MosquittoServer,
  type PostgresServer,
  type RedisCluster,
  type RedisHa,
  type RedisServer,
  type ServiceProcess,
  freePort,
  redisCli,
  startMosquitto,
  startPostgresServer,
  startRedisCluster,
  startRedisHa,
  startRedisServer,
  startService,
  waitFor,
} from 'core/testing';
import type Redis from 'ioredis';
import { type History, type Verdict, check, clean, describe } from './checker.ts';
import { type Door, type DoorName, importDoor, ingestDoor, mqttDoor } from './doors.ts';

const root = join(import.meta.dir, '..');
const ENTRIES = {
  api: join(root, 'api/src/index.ts'),
  /** A second API instance on the same PostgreSQL (with `apiInstances: 2`). */
  'api-2': join(root, 'api/src/index.ts'),
  'consumer-store': join(root, 'consumer-store/src/index.ts'),
  'consumer-alert': join(root, 'consumer-alert/src/index.ts'),
  producer: join(root, 'producer/src/index.ts'),
  /** With `doors.mqtt`: MQTT into the stream. */
  'ingest-mqtt': join(root, 'ingest-mqtt/src/index.ts'),
} as const;
export type ServiceName = keyof typeof ENTRIES;
const GROUPS = ['store', 'alerts'];
export const THRESHOLD = 50;

export interface WorkloadOptions {
  readings: number;
  devices?: number;
  /** Share of readings above the threshold (default 0.3). */
  overShare?: number;
  /** Every device alternates 51, 49, 51, …: each reading is a transition (overShare is ignored). */
  flapping?: boolean;
  /** Device ids are `<prefix><n>` (default `device-`): each door has devices of its own. */
  prefix?: string;
}

/** Readings with unique ids and strictly increasing `ts` per device, in file order. */
export function makeWorkload({
  readings,
  devices = 100,
  overShare = 0.3,
  flapping = false,
  prefix = 'device-',
}: WorkloadOptions): Reading[] {
  const start = Date.now() - readings;
  const randomValue = () =>
    Math.random() < overShare ? 51 + Math.floor(Math.random() * 50) : Math.floor(Math.random() * 51);
  return Array.from({ length: readings }, (_, i) => ({
    id: newEventId(start + i),
    deviceId: `${prefix}${i % devices}`,
    metric: 'kwh',
    value: flapping ? (Math.floor(i / devices) % 2 === 0 ? 51 : 49) : randomValue(),
    unit: 'kWh',
    ts: start + i,
  }));
}

export interface PipelineOptions {
  workload: WorkloadOptions;
  /** Producer pace, readings/s (default 4,000: long enough for a fault to land mid-run). */
  rate?: number;
  /** Extra environment for every service (e.g. ALERT_WEBHOOK_URL). */
  env?: Record<string, string>;
  /** The producer talks to Redis at this URL instead (e.g. through a proxy that loses replies). */
  producerRedisUrl?: (redisPort: number) => Promise<string>;
  /** Where the API stores: a SQLite file (default) or a PostgreSQL server of the run's own. */
  backend?: 'sqlite' | 'postgres';
  /** API instances, consumer-store spreading batches over them (2 needs PostgreSQL). Default 1. */
  apiInstances?: 1 | 2;
  /** KEY_PREFIX for every service (and the harness's own connection). */
  keyPrefix?: string;
  /** Redis's maxmemory (noeviction), for a Redis that fills. */
  redisMaxMemory?: string;
  /** A primary, two replicas and three Sentinels instead of one Redis; every service connects through the Sentinels. */
  ha?: boolean;
  /** A Redis Cluster of three masters, a replica each; every service connects with REDIS_CLUSTER_NODES. */
  cluster?: boolean;
  /**
   * STREAM_PARTITIONS for every service: the readings stream in this many partitions. Default
   * TEST_STREAM_PARTITIONS, or 1 (`bun run test` runs the kill -9 scenarios with 1 and with 4).
   */
  partitions?: number;
  /**
   * Readings sent through each of these doors as well as the producer's (at its rate, on devices
   * of the door's own): `POST /ingest`, an import, MQTT (a broker and ingest-mqtt of the run's own).
   */
  doors?: Partial<Record<DoorName, number>>;
}

export interface Pipeline {
  /** The one Redis; with `ha`, the primary it started with (see `ha` for the current one). */
  redisServer: RedisServer;
  /** With `ha`: the primary, replicas and Sentinels. */
  ha?: RedisHa;
  /** With `cluster`: its nodes (`redisServer` is the first master). */
  cluster?: RedisCluster;
  /** The PostgreSQL server, with `backend: 'postgres'`. */
  postgres?: PostgresServer;
  /** The MQTT broker, with `doors.mqtt`. */
  broker?: MosquittoServer;
  /** Each API instance's base URL. */
  apiUrls: readonly string[];
  redis: Redis;
  offered: readonly Reading[];
  services: Map<ServiceName, ServiceProcess>;
  /** Starts (or starts again) a service with the run's environment. */
  start(name: ServiceName): Promise<ServiceProcess>;
  /** One more instance of a consumer under its own consumer name (scale-out); the caller owns it. */
  startInstance(name: 'consumer-store' | 'consumer-alert', consumerName: string): ServiceProcess;
  /** SIGKILL, as a crash would. */
  kill(name: ServiceName): Promise<void>;
  /** Resolves when the producer run in progress has published the whole file and exited 0. */
  producerFinished(): Promise<void>;
  /** Starts sending through the doors of `options.doors` (once). */
  openDoors(): void;
  /** Resolves when every door has every one of its readings acknowledged. */
  doorsFinished(): Promise<void>;
  /** Waits until both groups (and notify) have everything acknowledged and every row is in. */
  settle(timeoutMs?: number): Promise<void>;
  history(options?: { delivered?: readonly string[] }): Promise<History>;
  /** With `ha`: each server's role, primary and stream lengths, and which one the harness reads. */
  describeRedis(): Promise<string>;
  stop(): Promise<void>;
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-faults-'));
  const produced = makeWorkload(options.workload);
  const replayFile = join(dir, 'workload.ndjson');
  await Bun.write(replayFile, `${produced.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const doorReadings = Object.entries(options.doors ?? {}).map(
    ([name, readings]) =>
      [name as DoorName, makeWorkload({ ...options.workload, readings, prefix: `${name}-device-` })] as const,
  );
  const offered = [...produced, ...doorReadings.flatMap(([, readings]) => readings)];
  const broker = options.doors?.mqtt ? await startMosquitto() : undefined;
  const ha = options.ha ? await startRedisHa() : undefined;
  const cluster = options.cluster ? await startRedisCluster() : undefined;
  const redisServer = ha
    ? (ha.servers[0] as RedisServer)
    : cluster
      ? (cluster.nodes[0] as RedisServer)
      : await startRedisServer({ fsync: 'everysec', maxMemory: options.redisMaxMemory });
  const redisEnv: Record<string, string> = {
    REDIS_URL: redisServer.url,
    ...(ha ? { REDIS_SENTINELS: ha.sentinelList } : {}),
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodeList } : {}),
  };
  const connect = () =>
    createRedis(redisTargetOf(loadConfig(commonSettings, redisEnv)), {
      name: 'faults',
      keyPrefix: options.keyPrefix,
    });
  // The harness's own connection: made again should ioredis give it up across failovers (a run
  // once saw it closed for good after two), so that the checks ask Redis, not a dead socket.
  let current = connect();
  const redisNow = (): Redis => {
    if (current.status === 'end') current = connect();
    return current;
  };
  const postgres = options.backend === 'postgres' ? await startPostgresServer() : undefined;
  const databaseUrl = postgres ? await postgres.createDatabase('faults') : join(dir, 'telemetry.db');
  const apiPorts = [await freePort(), ...(options.apiInstances === 2 ? [await freePort()] : [])];
  const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
  const partitionCount = options.partitions ?? Number(process.env.TEST_STREAM_PARTITIONS ?? '1');
  const env: Record<string, string> = {
    ...redisEnv,
    API_URL: apiUrls.join(','),
    API_TOKEN: 'faults',
    PORT: String(apiPorts[0]),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    // Entries of a worker that does not come back are taken over after 2 s.
    CLAIM_IDLE_MS: '2000',
    REQUEST_TIMEOUT_MS: '5000',
    RETAIN_ALERTS: '1000000',
    ...(options.keyPrefix ? { KEY_PREFIX: options.keyPrefix } : {}),
    ...(partitionCount > 1 ? { STREAM_PARTITIONS: String(partitionCount) } : {}),
    ...options.env,
  };
  // The readings stream's partitions, each checked as a stream of its own.
  const partitions = readingStreams('readings', partitionCount).streams;
  // The alerts stream, split as the readings stream is: each partition's transitions beside it.
  const alertPartitions = readingStreams('alerts', partitionCount).streams;
  const allCaughtUp = async (groups: readonly string[]) =>
    (await Promise.all(partitions.map((stream) => groupsCaughtUp(redisNow(), stream, groups)))).every(Boolean);
  const services = new Map<ServiceName, ServiceProcess>();
  let producerRuns = 0;
  const ackFiles: string[] = [];

  const start = async (name: ServiceName): Promise<ServiceProcess> => {
    // A restarted worker keeps its name, as under `bun run start` or a restarted container.
    let serviceEnv = name.startsWith('consumer-') ? { ...env, CONSUMER_NAME: `faults-${name}` } : env;
    if (name === 'producer') {
      producerRuns += 1;
      const csv = join(dir, `acked-${producerRuns}.csv`);
      ackFiles.push(csv);
      serviceEnv = {
        ...env,
        REPLAY: replayFile,
        CSV_FILE: csv,
        RATE: String(options.rate ?? 4_000),
        MAX_BUFFERED: String(produced.length),
      };
      if (options.producerRedisUrl) serviceEnv.REDIS_URL = await options.producerRedisUrl(redisServer.port);
    }
    if (name === 'api-2') serviceEnv = { ...env, PORT: String(apiPorts[1]) };
    // At info: the harness waits for its `subscribed`.
    if (name === 'ingest-mqtt')
      serviceEnv = { ...env, MQTT_URL: broker?.url ?? '', MQTT_CLIENT_ID: 'faults-ingest', LOG_LEVEL: 'info' };
    const service = startService(ENTRIES[name], serviceEnv);
    services.set(name, service);
    if (name === 'api' || name === 'api-2') {
      const url = apiUrls[name === 'api' ? 0 : 1];
      await waitFor(
        () =>
          fetch(`${url}/health`).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 20_000, what: `${name} up` },
      );
    }
    return service;
  };

  const extraInstances: ServiceProcess[] = [];
  const doors: Door[] = [];
  /** Rows the API holds, counted by the API. */
  const storedCount = async () =>
    ((await (await fetch(`${apiUrls[0]}/stats?deviceLimit=0`)).json()) as { count: number }).count;
  const pipeline: Pipeline = {
    redisServer,
    ha,
    cluster,
    postgres,
    broker,
    apiUrls,
    get redis() {
      return redisNow();
    },
    offered,
    services,
    start,
    startInstance(name, consumerName) {
      const instance = startService(ENTRIES[name], { ...env, CONSUMER_NAME: consumerName });
      extraInstances.push(instance);
      return instance;
    },
    async kill(name) {
      await services.get(name)?.kill('SIGKILL');
    },
    async producerFinished() {
      const producer = services.get('producer');
      // A producer that never finishes fails the run with its account, not the test's timeout.
      const code = await Promise.race([producer?.exited, Bun.sleep(120_000).then(() => 'still running after 120 s')]);
      if (code !== 0) throw new Error(`producer exited with ${code}:\n${producer?.output().slice(-3_000)}`);
    },
    openDoors() {
      if (doors.length > 0) return;
      const [api] = apiUrls as [string];
      // Each door at a third of the producer's pace: together about what it sends, and all of
      // them still under way when a fault lands.
      const rate = (options.rate ?? 4_000) / 3;
      for (const [name, readings] of doorReadings) {
        if (name === 'ingest') doors.push(ingestDoor(api, env.API_TOKEN as string, readings, rate));
        if (name === 'import') doors.push(importDoor(api, env.API_TOKEN as string, readings));
        if (name === 'mqtt') doors.push(mqttDoor(broker?.url as string, readings, rate));
      }
    },
    async doorsFinished() {
      const finished = Promise.all(doors.map((door) => door.finished)).then(() => true);
      if (!(await Promise.race([finished, Bun.sleep(120_000).then(() => false)]))) {
        throw new Error(
          `doors not finished after 120 s: ${doors.map((door) => `${door.name} ${door.acked.length} acknowledged`).join(', ')}`,
        );
      }
    },
    async settle(timeoutMs = 90_000) {
      await waitFor(
        async () => {
          if ((await storedCount().catch(() => 0)) < offered.length) return false;
          const [readings, alerts] = await Promise.all([
            allCaughtUp(GROUPS).catch(() => false),
            Promise.all(alertPartitions.map((stream) => groupsCaughtUp(redisNow(), stream, ['notify', 'history'])))
              .then((each) => each.every(Boolean))
              .catch(() => false),
          ]);
          return readings && alerts;
        },
        { timeoutMs, intervalMs: 200, what: 'every reading stored and evaluated, every alert notified and recorded' },
      ).catch(async (error: Error) => {
        // What was missing, for the account of a run that never settled.
        const groups = async (stream: string) =>
          JSON.stringify(await readGroups(redisNow(), stream).catch((e: Error) => e.message));
        const services = [...pipeline.services.entries()].map(
          ([name, service]) =>
            `--- ${name}\n${service
              .output()
              .split('\n')
              .filter((line) => line.includes('"level":"warn"') || line.includes('"level":"error"'))
              .slice(-8)
              .join('\n')}`,
        );
        throw new Error(
          `${error.message}\n${await describeCluster(cluster)}stored ${await storedCount().catch(() => -1)} of ${offered.length}; readings groups ${await groups('readings')}; alerts groups ${(await Promise.all(alertPartitions.map(groups))).join(' ')}\n${services.join('\n')}`,
        );
      });
    },
    async history(extra = {}) {
      // Every stored row, one line each: a row stored twice would show twice.
      const exported = await (await fetch(`${apiUrls[0]}/readings/export?format=ndjson`)).text();
      const stored = exported
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: string }).id);
      const acked: string[] = [];
      for (const file of ackFiles) {
        const text = await readFile(file, 'utf8').catch(() => '');
        // Header `id,deviceId,...`; ids never hold a comma. A line cut by a crash still has its id first.
        for (const line of text.split('\n').slice(1))
          if (line.includes(',')) acked.push(line.slice(0, line.indexOf(',')));
      }
      for (const door of doors) acked.push(...door.acked);
      // Partition by partition: each device's alerts are in one, in order.
      const alerts: Alert[] = [];
      for (const stream of alertPartitions)
        for (const [, fields] of await redisNow().xrange(stream, '-', '+')) alerts.push(decodeAlert(fields));
      // The alert history, every page: an alert recorded twice would show twice.
      const recorded: string[] = [];
      for (let cursor: string | null = ''; cursor !== null; ) {
        const page = (await (
          await fetch(`${apiUrls[0]}/alerts?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)
        ).json()) as { alerts: Array<{ id: string }>; nextCursor: string | null };
        recorded.push(...page.alerts.map((a) => a.id));
        cursor = page.nextCursor;
      }
      let pending = 0;
      let deadLetters = 0;
      for (const stream of [...partitions, ...alertPartitions]) {
        for (const group of await readGroups(redisNow(), stream)) pending += group.pending;
        deadLetters += await redisNow().xlen(streamKeys(redisNow(), stream).dead);
      }
      return { offered, acked, stored, alerts, recorded, pending, deadLetters, ...extra };
    },
    async describeRedis() {
      if (!ha) return '';
      const reading = (current as unknown as { stream?: { remotePort?: number } }).stream?.remotePort;
      const lines = await Promise.all(
        ha.servers.map((server) =>
          withShortConnection({ host: '127.0.0.1', port: server.port }, async (client) => {
            const info = await client.info('replication');
            const field = (name: string) => info.match(new RegExp(`${name}:(\\S+)`))?.[1] ?? '-';
            const pending = (await readGroups(client, 'alerts')).map((g) => `${g.name}:${g.pending}`).join(' ');
            return `port ${server.port}: ${field('role')} of ${field('master_port')} link ${field('master_link_status')} offset ${field('master_repl_offset')}; readings ${await client.xlen('readings')}, alerts ${await client.xlen('alerts')} (${pending})`;
          }).catch((error: Error) => `port ${server.port}: ${error.message}`),
        ),
      );
      return `the harness reads port ${reading}\n${lines.join('\n')}`;
    },
    async stop() {
      await Promise.all([...services.values(), ...extraInstances].map((service) => service.kill('SIGKILL')));
      current.disconnect();
      if (ha) await ha.stop();
      else if (cluster) await cluster.stop();
      else await redisServer.stop();
      await postgres?.stop();
      await broker?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await start('api');
  if (options.apiInstances === 2) await start('api-2');
  await start('consumer-store');
  await start('consumer-alert');
  if (broker) {
    // Subscribed before the first message: a broker drops what no session has subscribed to.
    const ingest = await start('ingest-mqtt');
    await waitFor(() => ingest.output().includes('"subscribed"'), {
      timeoutMs: 20_000,
      what: 'ingest-mqtt subscribed',
    });
  }
  // Both groups exist on every partition before the first reading.
  await waitFor(
    async () =>
      (await Promise.all(partitions.map(async (stream) => (await readGroups(redisNow(), stream)).length >= 2))).every(
        Boolean,
      ),
    {
      timeoutMs: 20_000,
      what: 'consumer groups',
    },
  );
  return pipeline;
}

/** Each node's role and its view of the cluster, for the account of a cluster run that never settled. */
async function describeCluster(cluster: RedisCluster | undefined): Promise<string> {
  if (!cluster) return '';
  const nodes = await Promise.all(
    cluster.nodes.map(async (node) => {
      const [role] = (await redisCli(node.port, 'ROLE')).split('\n');
      const state = /cluster_state:(\w+)/.exec(await redisCli(node.port, 'CLUSTER', 'INFO'))?.[1] ?? 'unknown';
      return `node ${node.port}: ${role || 'down'}, cluster ${state}`;
    }),
  );
  return `${nodes.join('\n')}\n`;
}

/** A random moment within [fromMs, toMs) — where in the run a fault lands. */
/** consumer-store and consumer-alert killed -9 together, and started again half a second later. */
export async function restartConsumers(pipeline: Pipeline): Promise<void> {
  await pipeline.kill('consumer-store');
  await pipeline.kill('consumer-alert');
  await Bun.sleep(500);
  await pipeline.start('consumer-store');
  await pipeline.start('consumer-alert');
}

export const randomDelay = (fromMs: number, toMs: number) => Bun.sleep(fromMs + Math.random() * (toMs - fromMs));

export interface ScenarioResult {
  verdict: Verdict;
  history: History;
  pipeline: Pipeline;
}

/**
 * Runs the producer over the workload while `fault` does its damage (it may restart what it
 * kills), waits for the producer's last run to finish and the pipeline to settle, then checks
 * the history. Throws with an account of every anomaly when the run is not clean.
 */
export async function runScenario(
  options: PipelineOptions & { delivered?: () => readonly string[] },
  fault: (pipeline: Pipeline) => Promise<void>,
  inspect?: (result: ScenarioResult) => Promise<void> | void,
): Promise<Verdict> {
  const pipeline = await startPipeline(options);
  try {
    await pipeline.start('producer');
    pipeline.openDoors();
    await fault(pipeline);
    await pipeline.producerFinished();
    await pipeline.doorsFinished();
    await pipeline.settle();
    const history = await pipeline.history(options.delivered ? { delivered: options.delivered() } : {});
    const verdict = check(history, THRESHOLD);
    if (!clean(verdict))
      throw new Error(`the run was not clean:\n${describe(verdict)}\n${await pipeline.describeRedis()}`);
    await inspect?.({ verdict, history, pipeline });
    return verdict;
  } finally {
    await pipeline.stop();
  }
}
