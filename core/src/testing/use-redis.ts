import { startRedisServer } from './redis-server.ts';

export interface TestRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A Redis for tests that only need one, not to crash one: `TEST_REDIS_URL` when CI provides a
 * service container, otherwise a fresh local redis-server. Tests sharing a server keep apart by
 * using `uniqueName()` for their keys. Tests that kill Redis call `startRedisServer()` directly.
 */
export async function useRedis(): Promise<TestRedis> {
  const external = process.env.TEST_REDIS_URL;
  if (external) return { url: external, stop: async () => {} };
  const server = await startRedisServer({ appendOnly: false });
  return { url: server.url, stop: () => server.stop() };
}
