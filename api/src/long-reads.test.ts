/**
 * A read longer than the server's default idle time (Elysia's 30 s) gets its budget's 503 with
 * the reason, not a dropped connection: on a real PostgreSQL, /stats waits on a table lock
 * another session holds.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test';
import { join } from 'node:path';
import { type RedisServer, type ServiceProcess, type TestDatabase, freePort, startRedisServer, startService, usePostgres, waitFor } from 'core/testing';

let postgres: TestDatabase;
let redis: RedisServer;
let api: ServiceProcess;
let base: string;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([usePostgres(), startRedisServer()]);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  api = startService(join(import.meta.dir, 'index.ts'), {
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    DATABASE_URL: postgres.url,
    API_TOKEN: 'long-reads',
    DATABASE_STATEMENT_TIMEOUT_MS: '32000',
    EXPECTED_WORKERS: '',
    LOG_LEVEL: 'warn',
  });
  await waitFor(() => fetch(`${base}/health`).then((r) => r.ok, () => false), { what: 'API', timeoutMs: 20_000 });
});
afterAll(async () => {
  await api?.kill('SIGTERM');
  await redis?.stop();
  await postgres?.stop();
});

it('answers 503 with the reason when a read runs past its budget, even past 30 s', async () => {
  const holder = new Bun.SQL(postgres.url, { max: 1 });
  try {
    await holder.begin(async (tx) => {
      await tx`LOCK TABLE readings IN ACCESS EXCLUSIVE MODE`;
      const response = await fetch(`${base}/stats`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect((await response.json()).message).toContain('statement timeout');
    });
  } finally {
    await holder.close();
  }
}, 60_000);
