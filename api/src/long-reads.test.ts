/**
 * Long reads on a real PostgreSQL, made long by a table lock another session holds: a read past
 * the server's default idle time (Elysia's 30 s) gets its budget's 503 with the reason, not a
 * dropped connection; and reads stuck on every connection of their pool never hold up a write.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test';
import { join } from 'node:path';
import {
  type RedisServer,
  type ServiceProcess,
  type TestDatabase,
  freePort,
  startRedisServer,
  startService,
  usePostgres,
  waitFor,
} from 'core/testing';

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
  await waitFor(
    () =>
      fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    { what: 'API', timeoutMs: 20_000 },
  );
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

it('stores a batch while long reads hold every connection of the read pool, and those reads answer once free', async () => {
  const holder = new Bun.SQL(postgres.url, { max: 1 });
  // The read pool's connections are opened before the lock: the test is about reads that wait,
  // not about opening connections (which, under the lock, did not reach it within 10 s).
  expect((await fetch(`${base}/alerts`)).status).toBe(200);
  try {
    await holder
      .begin(async (tx) => {
        // The alert history is only read by the API: reads of it wait, writes of readings need not.
        await tx`LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE`;
        let answered = 0;
        const reads = [1, 2].map(() =>
          fetch(`${base}/alerts`).then((response) => {
            answered += 1;
            return response.status;
          }),
        );
        // The two reads, by the lock they wait for — a connection the pool opened for the second one
        // waits while parsing, before pg_stat_activity shows its statement —, and not alert
        // retention's DELETE, which may be waiting on the lock too.
        await waitFor(
          async () =>
            (
              await tx`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                     WHERE l.relation = 'alerts'::regclass AND NOT l.granted AND a.query NOT LIKE 'DELETE%'`
            )[0].n === 2,
          { what: 'both readers waiting on the lock' },
        );
        const ts = new Date().toISOString();
        const readings = Array.from({ length: 500 }, (_, i) => ({
          deviceId: `pump-${i % 10}`,
          metric: 'kwh',
          value: i,
          unit: 'kWh',
          ts,
        }));
        const write = await fetch(`${base}/readings/batch`, {
          method: 'POST',
          headers: { authorization: 'Bearer long-reads', 'content-type': 'application/json' },
          body: JSON.stringify({ readings }),
        });
        expect(write.status).toBe(200);
        expect((await write.json()).inserted).toBe(500);
        expect((await fetch(`${base}/readings/latest?limit=5`)).status).toBe(200);
        // The reads are still waiting: the write did not wait for them.
        expect(answered).toBe(0);
        // Not the array itself: a transaction waits for an array of promises returned to it.
        return { reads };
      })
      .then(async ({ reads }) => expect(await Promise.all(reads)).toEqual([200, 200]));
  } finally {
    await holder.close();
  }
}, 60_000);
