import { hostname } from 'node:os';
import type Redis from 'ioredis';
import { defaultInstanceName } from './instance.ts';
import { pipelineKeys } from './keys.ts';
import type { LatencyHistogram } from './latency.ts';
import type { Logger } from './logger.ts';

export interface Heartbeat {
  service: string;
  instance: string;
  pid: number;
  host: string;
  version: string;
  startedAt: string;
  at: string;
  /** Last time any counter moved. */
  lastProgressAt: string;
  ttlMs: number;
  /**
   * Set while the worker is alive but not doing its work (e.g. consumer-store stopped on a wrong
   * API_TOKEN): /health is degraded with it. Short and public: no hosts, URLs or secrets.
   */
  problem?: string;
  /** Counts that only grow (stored, dead-lettered, alerts fired, ...). */
  counters: Record<string, number>;
  /** Values that go up and down, or maxima (readings buffered, the longest handler run). */
  gauges?: Record<string, number>;
  /** What the worker works by, for /health and the dashboard (consumer-alert: its active rules). */
  info?: Record<string, unknown>;
  latencies: Record<
    string,
    { count: number; sumMs: number; buckets: Array<[number, number]>; p50Ms: number | null; p99Ms: number | null }
  >;
}

export interface HeartbeatOptions {
  redis: Redis;
  service: string;
  instance?: string;
  version?: string;
  /** Default 2,000 ms; the key lives for 5 intervals. */
  intervalMs?: number;
  counters: () => Record<string, number>;
  gauges?: () => Record<string, number>;
  /** See Heartbeat.info. */
  info?: () => Record<string, unknown>;
  latencies?: () => Record<string, LatencyHistogram>;
  /** What keeps the worker from its work right now, if anything (see Heartbeat.problem). */
  problem?: () => string | undefined;
  /** Written (time of the beat) after each beat that reached Redis; see container-health.ts. */
  file?: string;
  logger?: Logger;
}

/**
 * Writes the worker's heartbeat every interval: a key with a TTL (alive or not) and an entry in
 * the workers hash (what it last said). The API's /health and /metrics read them; stop() removes
 * both, so a clean stop is not mistaken for a crash.
 */
export function startHeartbeat(options: HeartbeatOptions) {
  const { redis, service, version = '0.1.0', intervalMs = 2_000, counters, logger } = options;
  const latencies: () => Record<string, LatencyHistogram> = options.latencies ?? (() => ({}));
  const instance = options.instance ?? defaultInstanceName();
  const key = pipelineKeys.heartbeat(`${service}:${instance}`);
  const field = `${service}:${instance}`;
  const startedAt = new Date().toISOString();
  const ttlMs = intervalMs * 5;
  let lastTotal = -1;
  let lastProgressAt = startedAt;

  const beat = async () => {
    const now = new Date().toISOString();
    const current = counters();
    const total = Object.values(current).reduce((sum, value) => sum + value, 0);
    if (total !== lastTotal) {
      lastTotal = total;
      lastProgressAt = now;
    }
    const problem = options.problem?.();
    const heartbeat: Heartbeat = {
      service,
      instance,
      pid: process.pid,
      host: hostname(),
      version,
      startedAt,
      at: now,
      lastProgressAt,
      ttlMs,
      ...(problem ? { problem } : {}),
      counters: current,
      ...(options.gauges ? { gauges: options.gauges() } : {}),
      ...(options.info ? { info: options.info() } : {}),
      latencies: Object.fromEntries(
        Object.entries(latencies()).map(([name, histogram]) => {
          const { p50Ms, p99Ms } = histogram.summary();
          return [name, { count: histogram.count, sumMs: histogram.sumMs, buckets: histogram.buckets(), p50Ms, p99Ms }];
        }),
      ),
    };
    const json = JSON.stringify(heartbeat);
    await redis.multi().set(key, json, 'PX', ttlMs).hset(pipelineKeys.workers, field, json).exec();
    if (options.file) await Bun.write(options.file, `${now}\n`);
  };

  let failing = false;
  const tick = () =>
    beat().then(
      () => {
        failing = false;
      },
      (error) => {
        if (!failing) logger?.warn('heartbeat_failed', { error });
        failing = true;
      },
    );
  // The first beat once connected: a fail-fast connection (the producer's) refuses commands before.
  if (redis.status === 'ready') void tick();
  else redis.once('ready', () => void tick());
  const timer = setInterval(tick, intervalMs);
  return {
    instance,
    async stop() {
      clearInterval(timer);
      await Promise.race([redis.multi().del(key).hdel(pipelineKeys.workers, field).exec(), Bun.sleep(1_000)]).catch(
        () => {},
      );
    },
  };
}
