/** What the hostile-input tests share: a Redis and a folder of their own, and an API with imports. */
import { afterAll, beforeAll } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createRedis } from 'core';
import { type RedisServer, startRedisServer, uniqueName } from 'core/testing';
import type Redis from 'ioredis';
import { createApp } from '../api/src/app.ts';
import { importJobs } from '../api/src/modules/imports/jobs.ts';
import { startImportWorker } from '../api/src/modules/imports/worker.ts';
import { TEST_TOKEN, testStore } from '../api/src/test-helpers.ts';

export const quiet = createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} });

export interface TestGround {
  readonly redis: Redis;
  readonly dir: string;
}

/**
 * A redis-server and a temp folder for one test file, started before its tests and removed after;
 * `prepare` runs on the folder before the tests (a mount), `release` before it is removed.
 */
export function useTestGround(
  name: string,
  hooks: { prepare?: (dir: string) => Promise<unknown>; release?: (dir: string) => Promise<unknown> } = {},
): TestGround {
  let server: RedisServer | undefined;
  const ground = { redis: undefined as unknown as Redis, dir: '' };
  beforeAll(async () => {
    server = await startRedisServer();
    ground.redis = createRedis(server.url, { name: `hostile-${name}`, keyPrefix: `${uniqueName(name)}:` });
    ground.dir = await mkdtemp(join(tmpdir(), `hostile-${name}-`));
    await hooks.prepare?.(ground.dir);
  });
  afterAll(async () => {
    ground.redis?.disconnect();
    await server?.stop();
    if (ground.dir) {
      await hooks.release?.(ground.dir);
      await rm(ground.dir, { recursive: true, force: true });
    }
  });
  return ground;
}

/** An API with imports and their worker, uploads kept in `uploads`; `call` answers status and JSON. */
export function importsApi(redis: Redis, uploads: string) {
  const stream = uniqueName('readings');
  const jobs = importJobs(redis, uniqueName('imports'));
  const owner = uniqueName('owner');
  const worker = startImportWorker({ redis, jobs, stream, owner, maxBacklog: 1_000_000, logger: quiet });
  const app = createApp({
    store: testStore(),
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: quiet,
    imports: { jobs, worker, dir: uploads, maxBytes: 1_000_000_000, maxJobs: 20, owner },
  });
  const call = async (method: string, path: string, body?: BodyInit, headers: Record<string, string> = {}) => {
    const response = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_TOKEN}`, ...headers },
        ...(body ? { body } : {}),
      }),
    );
    return { status: response.status, body: (await response.json()) as any };
  };
  return { app, call, worker, jobs, owner, stream };
}
