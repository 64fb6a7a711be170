import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, useRedis, waitFor, type TestRedis } from './testing/index.ts';
import { createRedis } from './redis.ts';
import { startHeartbeat } from './heartbeat.ts';

/** The Dockerfile's HEALTHCHECK, run as the container would run it. */
async function healthCheck(env: Record<string, string>): Promise<{ code: number; said: string }> {
  const child = Bun.spawn(['bun', join(import.meta.dir, 'container-health.ts')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdout: 'pipe',
  });
  const said = await new Response(child.stdout).text();
  return { code: await child.exited, said: said.trim() };
}

describe('container health check', () => {
  let redis: TestRedis;
  const dir = mkdtempSync(join(tmpdir(), 'container-health-'));
  beforeAll(async () => {
    redis = await useRedis();
  });
  afterAll(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('calls a worker healthy once its heartbeat reached Redis, and unhealthy when the last one is old', async () => {
    const file = join(dir, 'heartbeat');
    const env = { SERVICE: 'consumer-store', HEARTBEAT_FILE: file };
    expect(await healthCheck(env)).toEqual({ code: 1, said: `consumer-store: no heartbeat yet (${file} is missing)` });

    const connection = createRedis(redis.url, { name: 'container-health-test' });
    const heartbeat = startHeartbeat({
      redis: connection,
      service: 'container-health-test',
      counters: () => ({}),
      file,
    });
    try {
      await waitFor(async () => (await Bun.file(file).exists()) || undefined);
      const fresh = await healthCheck(env);
      expect(fresh.code).toBe(0);
      expect(fresh.said).toMatch(/^consumer-store: last heartbeat \d+ ms ago$/);
    } finally {
      await heartbeat.stop();
      connection.disconnect();
    }
    // A worker that stopped beating (Redis away, or stuck): its last beat a minute old.
    const aMinuteAgo = new Date(Date.now() - 60_000);
    utimesSync(file, aMinuteAgo, aMinuteAgo);
    const stale = await healthCheck(env);
    expect(stale.code).toBe(1);
    expect(stale.said).toContain('Redis unreachable, or the worker stuck');
  });

  it('calls the API healthy unless /health answers 503 or nothing answers', async () => {
    let status = 200;
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('{}', { status }) });
    try {
      const env = { SERVICE: 'api', PORT: String(server.port) };
      expect(await healthCheck(env)).toEqual({ code: 0, said: 'api: /health answered 200' });
      status = 503;
      expect(await healthCheck(env)).toEqual({ code: 1, said: 'api: /health answered 503' });
    } finally {
      server.stop(true);
    }
    const closed = await healthCheck({ SERVICE: 'api', PORT: String(await freePort()) });
    expect(closed.code).toBe(1);
    expect(closed.said).toContain('api: /health did not answer');
  });
});
