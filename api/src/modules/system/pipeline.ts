import {
  type GroupState,
  type Heartbeat,
  type RedisMemory,
  pipelineKeys,
  entryTimeMs,
  memoryProblems,
  readGroups,
  readRedisMemory,
  streamKeys,
} from 'core';
import type Redis from 'ioredis';
import type { EpochWatch } from './redis-epoch.ts';
import type { ReplicationView, ReplicationWatch } from './replication.ts';

export interface PipelineOptions {
  redis: Redis;
  /** Streams whose groups and dead letters are watched: readings and alerts (each partition). */
  streams: readonly string[];
  /** The readings and alerts streams' partitions (STREAM_PARTITIONS), whose groups are also added up. */
  partitions?: ReadonlyArray<{ stream: string; streams: readonly string[] }>;
  /** Services that must have at least one live instance. */
  expectedWorkers: readonly string[];
  /** A group further behind than this makes the pipeline degraded. */
  lagDegraded: number;
  /**
   * An entry waiting this long to be handled by a group (not yet read, or read and not yet
   * acknowledged) makes the pipeline degraded: readings are arriving and not being stored (or
   * evaluated), whatever the reason. Default 30,000 ms.
   */
  stallDegradedMs?: number;
  /** Notices a Redis that lost its data (see redis-epoch.ts). */
  epoch?: Pick<EpochWatch, 'reason' | 'losses'>;
  /** The primary's replicas and failovers (see replication.ts). */
  replication?: Pick<ReplicationWatch, 'view' | 'reasons'>;
}

export interface GroupHealth {
  stream: string;
  group: string;
  consumers: number;
  pending: number;
  lag: number | null;
  /** Seconds the oldest entry this group has not finished with has been in the stream (null: none). */
  oldestWaitingSeconds: number | null;
}

export interface WorkerHealth {
  service: string;
  instance: string;
  status: 'alive' | 'silent';
  lastSeenSecondsAgo: number;
  host: string;
  pid: number;
  version: string;
  startedAt: string;
  lastProgressAt: string;
  /** What keeps an alive worker from its work, as it says itself. */
  problem?: string;
  counters: Record<string, number>;
  /** What the worker works by (consumer-alert: its active rules), as it says itself. */
  info?: Record<string, unknown>;
}

export interface PipelineHealth {
  redis: {
    status: 'ok' | 'down';
    latencyMs?: number;
    error?: string;
    memory?: RedisMemory;
    replication?: ReplicationView;
  };
  groups: GroupHealth[];
  /** With partitions: each group of the readings and alerts streams over all their partitions (pending and lag added up, the longest wait). */
  partitionTotals?: Array<GroupHealth & { partitions: number }>;
  /** Depth of each dead-letter stream, and when its oldest entry was set aside. */
  deadLetters: Array<{ stream: string; entries: number; since: string | null }>;
  workers: WorkerHealth[];
  /** Why the pipeline is not ok, for people. */
  reasons: string[];
  /** Raw heartbeats of live workers, for /metrics. */
  heartbeats: Heartbeat[];
}

/** A silent worker is reported for this long, then forgotten (a scaled-down instance, say). */
const FORGET_SILENT_MS = 10 * 60 * 1_000;

function parseHeartbeat(json: string): Heartbeat | undefined {
  try {
    const beat = JSON.parse(json) as Heartbeat;
    return Number.isFinite(Date.parse(beat.at)) ? beat : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes workers silent for longer than FORGET_SILENT_MS (a scaled-down instance) and entries
 * that are not heartbeats from the workers hash, on its own schedule: a GET /health never writes.
 * Returns how many it removed.
 */
export async function forgetSilentWorkers(redis: Redis, nowMs = Date.now()): Promise<number> {
  const stale = Object.entries(await redis.hgetall(pipelineKeys.workers))
    .filter(([, json]) => {
      const beat = parseHeartbeat(json);
      return !beat || nowMs - Date.parse(beat.at) > FORGET_SILENT_MS;
    })
    .map(([field]) => field);
  if (stale.length > 0) await redis.hdel(pipelineKeys.workers, ...stale);
  return stale.length;
}

export interface RuleSummary {
  id: string;
  metric: string;
  device: string;
  direction: 'above' | 'below';
  threshold: number;
}

/**
 * The rules the alerting service runs by, as a live consumer-alert's heartbeat reports them
 * (empty when none is alive), read at most every `cacheMs`: /stats counts over-threshold
 * readings by the threshold alerts actually fire at, not a default of its own.
 */
export function activeRules(redis: Redis, cacheMs = 2_000): () => RuleSummary[] | Promise<RuleSummary[]> {
  let cached: { at: number; rules: Promise<RuleSummary[]>; read?: RuleSummary[] } | undefined;
  const read = async (): Promise<RuleSummary[]> => {
    const now = Date.now();
    for (const json of Object.values(await redis.hgetall(pipelineKeys.workers))) {
      const beat = parseHeartbeat(json);
      const rules = beat?.info?.rules;
      if (beat?.service === 'consumer-alert' && now - Date.parse(beat.at) <= beat.ttlMs && Array.isArray(rules))
        return rules as RuleSummary[];
    }
    return [];
  };
  // A fresh answer is given at once (no await): a /stats request keeps its place among others.
  return () => {
    if (cached && Date.now() - cached.at <= cacheMs) return cached.read ?? cached.rules;
    const entry: NonNullable<typeof cached> = { at: Date.now(), rules: read().catch(() => []) };
    void entry.rules.then((rules) => (entry.read = rules));
    cached = entry;
    return entry.rules;
  };
}

/** Runs forgetSilentWorkers every `intervalMs` (default a minute) until stopped. */
export function startWorkerJanitor(redis: Redis, intervalMs = 60_000): { stop(): void } {
  const timer = setInterval(() => void forgetSilentWorkers(redis).catch(() => {}), intervalMs);
  return { stop: () => clearInterval(timer) };
}

/**
 * The stream time (ms) of the oldest entry a group has not finished with: its oldest pending
 * entry, or else the first entry after what it last read. Entry ids carry Redis's clock at XADD.
 */
async function oldestWaitingMs(
  redis: Redis,
  stream: string,
  { name, pending, lag, lastDeliveredId }: GroupState,
): Promise<number | undefined> {
  if (pending > 0) {
    const summary = (await redis.call('XPENDING', stream, name)) as [number, string | null, string | null, unknown];
    if (summary[1]) return entryTimeMs(summary[1]);
  }
  // A group that has read everything (lag 0) has no unread entry waiting; lag is null when Redis cannot tell.
  if (lag === 0) return undefined;
  const next = (await redis.call('XRANGE', stream, `(${lastDeliveredId}`, '+', 'COUNT', 1)) as Array<
    [string, string[]]
  >;
  return next[0] ? entryTimeMs(next[0][0]) : undefined;
}

async function groupsOf(redis: Redis, stream: string, nowMs: number): Promise<GroupHealth[]> {
  return Promise.all(
    (await readGroups(redis, stream)).map(async (state) => {
      const { name, consumers, pending, lag } = state;
      const waitingSince = await oldestWaitingMs(redis, stream, state);
      const oldestWaitingSeconds =
        waitingSince === undefined ? null : Math.max(0, Math.round((nowMs - waitingSince) / 100) / 10);
      return { stream, group: name, consumers, pending, lag, oldestWaitingSeconds };
    }),
  );
}

/** Each group of the partitions' streams added up over them (a group missing on one counts its lag unknown). */
function totalOver(
  partitions: { stream: string; streams: readonly string[] },
  groups: readonly GroupHealth[],
): Array<GroupHealth & { partitions: number }> {
  const totals = new Map<string, GroupHealth & { partitions: number }>();
  for (const group of groups) {
    if (!partitions.streams.includes(group.stream)) continue;
    const total = totals.get(group.group) ?? {
      stream: partitions.stream,
      group: group.group,
      partitions: 0,
      consumers: 0,
      pending: 0,
      lag: 0,
      oldestWaitingSeconds: null,
    };
    total.partitions += 1;
    total.consumers = Math.max(total.consumers, group.consumers);
    total.pending += group.pending;
    total.lag = total.lag === null || group.lag === null ? null : total.lag + group.lag;
    if (group.oldestWaitingSeconds !== null)
      total.oldestWaitingSeconds = Math.max(total.oldestWaitingSeconds ?? 0, group.oldestWaitingSeconds);
    totals.set(group.group, total);
  }
  for (const total of totals.values()) if (total.partitions < partitions.streams.length) total.lag = null;
  return [...totals.values()];
}

/**
 * The whole pipeline as the API sees it through Redis: each group's lag and pending entries,
 * dead-letter depths, and every worker's heartbeat (alive, or silent since when).
 */
export async function pipelineHealth(options: PipelineOptions): Promise<PipelineHealth> {
  const { redis, streams, expectedWorkers, lagDegraded, stallDegradedMs = 30_000 } = options;
  const started = performance.now();
  try {
    await redis.ping();
  } catch (error) {
    return {
      redis: { status: 'down', error: (error as Error).message },
      groups: [],
      deadLetters: [],
      workers: [],
      reasons: [`Redis is unreachable: ${(error as Error).message}`],
      heartbeats: [],
    };
  }
  const latencyMs = Number((performance.now() - started).toFixed(3));
  const reasons: string[] = [];
  const lost = options.epoch?.reason();
  if (lost) reasons.push(lost);
  const memory = await readRedisMemory(redis);
  reasons.push(...memoryProblems(memory));
  const replication = options.replication?.view();
  reasons.push(...(options.replication?.reasons() ?? []));
  const groups = (await Promise.all(streams.map((stream) => groupsOf(redis, stream, Date.now())))).flat();
  const deadLetters = await Promise.all(
    streams.map(async (stream) => {
      const { dead } = streamKeys(redis, stream);
      const [entries, oldest] = await Promise.all([redis.xlen(dead), redis.xrange(dead, '-', '+', 'COUNT', 1)]);
      const since = oldest[0] ? new Date(entryTimeMs(oldest[0][0])).toISOString() : null;
      return { stream: dead, entries, since };
    }),
  );
  for (const group of groups) {
    if (group.lag !== null && group.lag > lagDegraded)
      reasons.push(`group ${group.group} on ${group.stream} is ${group.lag} entries behind`);
    if (group.oldestWaitingSeconds !== null && group.oldestWaitingSeconds * 1_000 > stallDegradedMs) {
      reasons.push(
        `group ${group.group} on ${group.stream} has an entry waiting ${Math.round(group.oldestWaitingSeconds)} s to be handled (stalled or far behind)`,
      );
    }
  }
  for (const dead of deadLetters) {
    if (dead.entries > 0)
      reasons.push(`${dead.entries} entries in ${dead.stream} since ${dead.since} (bun run deadletters list)`);
  }

  const now = Date.now();
  const workers: WorkerHealth[] = [];
  const heartbeats: Heartbeat[] = [];
  // Read only: entries too old or unreadable are skipped here and removed by the janitor.
  for (const json of Object.values(await redis.hgetall(pipelineKeys.workers))) {
    const beat = parseHeartbeat(json);
    if (!beat) continue;
    const age = now - Date.parse(beat.at);
    if (age > FORGET_SILENT_MS) continue;
    // A silent instance is listed; it makes the pipeline degraded only when its service has no
    // live instance left (below): the survivors take over its entries.
    const alive = age <= beat.ttlMs;
    if (alive) heartbeats.push(beat);
    workers.push({
      service: beat.service,
      instance: beat.instance,
      status: alive ? 'alive' : 'silent',
      lastSeenSecondsAgo: Math.round(age / 100) / 10,
      host: beat.host,
      pid: beat.pid,
      version: beat.version,
      startedAt: beat.startedAt,
      lastProgressAt: beat.lastProgressAt,
      ...(beat.problem ? { problem: beat.problem } : {}),
      counters: beat.counters,
      ...(beat.info ? { info: beat.info } : {}),
    });
    if (alive && beat.problem) reasons.push(`${beat.service} ${beat.problem}`);
  }
  const services = new Set([...expectedWorkers, ...workers.map((worker) => worker.service)]);
  for (const service of services) {
    if (workers.some((worker) => worker.service === service && worker.status === 'alive')) continue;
    const silent = workers.filter((worker) => worker.service === service);
    // Reasons are public (READ_TOKEN or not): instance names, which hold host names, stay in the details.
    const quietest = Math.min(...silent.map((w) => w.lastSeenSecondsAgo));
    reasons.push(
      silent.length > 0
        ? `no live ${service} (the last one was seen ${Math.round(quietest)} s ago)`
        : `no live ${service}`,
    );
  }
  workers.sort((a, b) => `${a.service}:${a.instance}`.localeCompare(`${b.service}:${b.instance}`));
  const partitions = options.partitions;
  return {
    redis: { status: 'ok', latencyMs, memory, ...(replication ? { replication } : {}) },
    groups,
    ...(partitions?.some((stream) => stream.streams.length > 1)
      ? { partitionTotals: partitions.flatMap((stream) => totalOver(stream, groups)) }
      : {}),
    deadLetters,
    workers,
    reasons,
    heartbeats,
  };
}

/**
 * Prometheus text for the pipeline: groups, dead letters, and what each live worker reported.
 * A worker is labelled `worker`, not `instance`: Prometheus sets `instance` itself (the scraped
 * API) and would rename ours to `exported_instance`.
 */
export function pipelineMetrics(health: PipelineHealth, epochLosses?: number): string {
  const lines: string[] = [];
  const label = (labels: Record<string, string>) =>
    `{${Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
      .join(',')}}`;
  const metric = (name: string, help: string, type: string, rows: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) lines.push(`${name}${label(labels)} ${value}`);
  };
  metric('pipeline_redis_up', 'Redis answers PING', 'gauge', [[{}, health.redis.status === 'ok' ? 1 : 0]]);
  const replication = health.redis.replication;
  if (replication) {
    metric(
      'pipeline_redis_replicas',
      'Replicas of the Redis primary, and those in sync (online, confirming within REDIS_WAIT_MS)',
      'gauge',
      [
        [{ state: 'connected' }, replication.replicas.length],
        [{ state: 'in_sync' }, replication.inSync],
      ],
    );
    metric(
      'pipeline_redis_replica_lag_bytes',
      'Bytes of the replication stream a replica has not confirmed',
      'gauge',
      replication.replicas.map((replica) => [{ replica: replica.address }, replica.lagBytes]),
    );
    metric('pipeline_redis_failovers_total', 'Changes of Redis primary this API has seen since it started', 'counter', [
      [{}, replication.failovers],
    ]);
    if (replication.sentinels)
      metric(
        'pipeline_redis_sentinel_up',
        'A Sentinel of REDIS_SENTINELS answers (1) or not (0)',
        'gauge',
        replication.sentinels.map((sentinel) => [{ sentinel: sentinel.address }, sentinel.answers ? 1 : 0]),
      );
  }
  const memory = health.redis.memory;
  if (memory) {
    metric('pipeline_redis_memory_used_bytes', "Redis's used_memory", 'gauge', [[{}, memory.usedBytes]]);
    metric(
      'pipeline_redis_memory_max_bytes',
      "Redis's maxmemory (0: no limit); past 0.9 of it the doors take no new readings",
      'gauge',
      [[{}, memory.maxBytes]],
    );
  }
  metric(
    'pipeline_group_lag',
    'Entries not yet delivered to the group; absent when Redis cannot tell (after trims)',
    'gauge',
    health.groups.flatMap((g) =>
      g.lag === null ? [] : [[{ stream: g.stream, group: g.group }, g.lag] as [Record<string, string>, number]],
    ),
  );
  metric(
    'pipeline_group_pending',
    'Entries delivered and not yet acknowledged',
    'gauge',
    health.groups.map((g) => [{ stream: g.stream, group: g.group }, g.pending]),
  );
  if (epochLosses !== undefined) {
    lines.push(
      '# HELP pipeline_redis_data_losses_total Times this API noticed Redis come back without its data (restarted empty or flushed)',
      '# TYPE pipeline_redis_data_losses_total counter',
      `pipeline_redis_data_losses_total ${epochLosses}`,
    );
  }
  metric(
    'pipeline_group_oldest_waiting_seconds',
    'Age of the oldest entry a group has not finished with (unread or unacknowledged); absent when none waits',
    'gauge',
    health.groups.flatMap((g) =>
      g.oldestWaitingSeconds === null ? [] : [[{ stream: g.stream, group: g.group }, g.oldestWaitingSeconds] as const],
    ),
  );
  metric(
    'pipeline_dead_letters',
    'Entries in a dead-letter stream',
    'gauge',
    health.deadLetters.map((d) => [{ stream: d.stream }, d.entries]),
  );
  metric(
    'pipeline_worker_up',
    'Worker heartbeat alive (1) or silent (0)',
    'gauge',
    health.workers.map((w) => [{ service: w.service, worker: w.instance }, w.status === 'alive' ? 1 : 0]),
  );
  metric(
    'pipeline_worker_events_total',
    'Counts a worker reports in its heartbeat, which only grow (stored, duplicates, dead-lettered, alerts fired/sent/failed, ...)',
    'counter',
    health.heartbeats.flatMap((beat) =>
      Object.entries(beat.counters).map(
        ([name, value]) =>
          [{ service: beat.service, worker: beat.instance, event: name }, value] as [Record<string, string>, number],
      ),
    ),
  );
  metric(
    'pipeline_worker_value',
    'Values a worker reports in its heartbeat that go up and down, or maxima (readings buffered, longest handler run in ms)',
    'gauge',
    health.heartbeats.flatMap((beat) =>
      Object.entries(beat.gauges ?? {}).map(
        ([name, value]) =>
          [{ service: beat.service, worker: beat.instance, name }, value] as [Record<string, string>, number],
      ),
    ),
  );
  lines.push(
    '# HELP pipeline_latency_seconds Lead time, batch time, detection and delivery latency per worker',
    '# TYPE pipeline_latency_seconds histogram',
  );
  for (const beat of health.heartbeats) {
    for (const [name, histogram] of Object.entries(beat.latencies)) {
      const base = { service: beat.service, worker: beat.instance, name };
      for (const [le, count] of histogram.buckets)
        lines.push(`pipeline_latency_seconds_bucket${label({ ...base, le: String(le / 1_000) })} ${count}`);
      lines.push(`pipeline_latency_seconds_bucket${label({ ...base, le: '+Inf' })} ${histogram.count}`);
      lines.push(`pipeline_latency_seconds_sum${label(base)} ${histogram.sumMs / 1_000}`);
      lines.push(`pipeline_latency_seconds_count${label(base)} ${histogram.count}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
