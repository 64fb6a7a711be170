/**
 * The whole pipeline on this machine for one benchmark scenario: its own redis-server (AOF
 * everysec), the API on a fresh SQLite file (WAL), consumer-store and consumer-alert, each its own
 * process on free ports, as in production. Also reads each process's CPU time and peak RSS.
 */
import { Database } from 'bun:sqlite';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, readGroups } from 'core';
import { type RedisServer, type ServiceProcess, freePort, startRedisServer, startService } from 'core/testing';
import type Redis from 'ioredis';
import { spawnApi } from '../support.ts';

export const root = join(import.meta.dir, '../../..');
export const TOKEN = 'bench';
const CLOCK_TICKS_PER_SEC = 100;

export interface ProcessUsage {
  cpuSeconds: number;
  peakRssMb: number;
  rssMb: number;
}

/** CPU seconds (user + system) and RSS of a live process, from /proc. */
export async function processUsage(pid: number): Promise<ProcessUsage> {
  // node:fs reads procfs files whole; their reported size is 0.
  const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SEC, peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

export interface Stack {
  redisServer: RedisServer;
  redis: Redis;
  apiUrl: string;
  env: Record<string, string>;
  /** pid of each process under test, by service name. */
  pids(): Record<string, number>;
  usage(): Promise<Record<string, ProcessUsage>>;
  /** Rows in SQLite (read from the file, without going through the API). */
  rowCount(): number;
  query<T>(sql: string): T[];
  /** True once each group has read up to the stream's newest entry and acknowledged everything. */
  drained(groups: readonly string[]): Promise<boolean>;
  startProducer(env: Record<string, string>): ServiceProcess;
  stop(): Promise<void>;
}

/** With BENCH_CPU_PROF_DIR set, every Bun process writes a CPU profile there when it exits. */
const profileFlags = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR] : [];

export async function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
  const redisServer = await startRedisServer({ fsync: 'everysec' });
  const redis = createRedis(redisServer.url, { name: 'bench' });
  const dbPath = join(dir, 'bench.db');
  const api = await spawnApi({ port: await freePort(), databaseUrl: dbPath, token: TOKEN, env: { REDIS_URL: redisServer.url, ...extraEnv } });
  const env = { REDIS_URL: redisServer.url, API_URL: api.url, API_TOKEN: TOKEN, LOG_LEVEL: 'warn', ...extraEnv };
  const store = startService(join(root, 'consumer-store/src/index.ts'), env, profileFlags);
  const alert = startService(join(root, 'consumer-alert/src/index.ts'), env, profileFlags);
  const db = new Database(dbPath, { readonly: true });
  const pids = () => ({ redis: redisServer.pid, api: api.pid, 'consumer-store': store.pid, 'consumer-alert': alert.pid });
  const stack: Stack = {
    redisServer,
    redis,
    apiUrl: api.url,
    env,
    pids,
    async usage() {
      const entries = await Promise.all(Object.entries(pids()).map(async ([name, pid]) => [name, await processUsage(pid)] as const));
      return Object.fromEntries(entries);
    },
    rowCount: () => (db.query('SELECT count(*) AS n FROM readings').get() as { n: number }).n,
    query: <T>(sql: string) => db.query(sql).all() as T[],
    async drained(names) {
      // Compared with the newest id rather than `lag`, which Redis stops reporting after trims.
      const [groups, newest] = await Promise.all([readGroups(redis, 'readings'), redis.xrevrange('readings', '+', '-', 'COUNT', 1)]);
      const lastId = newest[0]?.[0];
      return names.every((name) => groups.some((group) => group.name === name && group.pending === 0 && group.lastDeliveredId === lastId));
    },
    startProducer: (producerEnv) => startService(join(root, 'producer/src/index.ts'), { ...env, DEVICES: '1000', ...producerEnv }, profileFlags),
    async stop() {
      db.close();
      await Promise.all([store.kill('SIGTERM'), alert.kill('SIGTERM')]);
      await api.stop();
      redis.disconnect();
      await redisServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  // Both groups exist before the first reading, so neither starts late at "$".
  await waitUntil(async () => (await readGroups(redis, 'readings').catch(() => [])).length >= 2, 20_000, 'consumer groups');
  return stack;
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
