/**
 * The whole pipeline on this machine for one benchmark scenario: its own redis-server (AOF
 * everysec), the API on a fresh SQLite file (WAL), consumer-store and consumer-alert, each its own
 * process on free ports, as in production. Also reads each process's CPU time and peak RSS.
 */
import { Database } from 'bun:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, groupsCaughtUp, readGroups } from 'core';
import { type ServiceProcess, freePort, startRedisServer, startService, waitFor } from 'core/testing';
import type Redis from 'ioredis';
import { type ProcessUsage, processUsage, profileFlags, spawnApi } from '../support.ts';

export const root = join(import.meta.dir, '../../..');
export const TOKEN = 'bench';

export interface Stack {
  redis: Redis;
  /** The API's base URL and process id. */
  api: { url: string; pid: number };
  /** CPU time and memory of each process under test, by service name. */
  usage(): Promise<Record<string, ProcessUsage>>;
  /** Rows in SQLite (read from the file, without going through the API). */
  rowCount(): number;
  query<T>(sql: string): T[];
  /** True once each group has read up to the stream's newest entry and acknowledged everything. */
  drained(groups: readonly string[]): Promise<boolean>;
  startProducer(env: Record<string, string>): ServiceProcess;
  stop(): Promise<void>;
}

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
    redis,
    api: { url: api.url, pid: api.pid },
    async usage() {
      const entries = await Promise.all(Object.entries(pids()).map(async ([name, pid]) => [name, await processUsage(pid)] as const));
      return Object.fromEntries(entries);
    },
    rowCount: () => (db.query('SELECT count(*) AS n FROM readings').get() as { n: number }).n,
    query: <T>(sql: string) => db.query(sql).all() as T[],
    drained: (names) => groupsCaughtUp(redis, 'readings', names),
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
  await waitFor(async () => (await readGroups(redis, 'readings').catch(() => [])).length >= 2, { timeoutMs: 20_000, what: 'consumer groups' });
  return stack;
}
