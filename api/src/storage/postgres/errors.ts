import { StorageUnavailableError } from '../port.ts';

/** SQLSTATE classes that mean "not now" rather than "never": connection trouble, shutdown, timeouts, lock waits. */
const TRANSIENT_STATES = /^(08|53|57|40)/;

/**
 * Whether a PostgreSQL error is the database being away, overloaded or restarting — something
 * a retry can fix — rather than a bug in a query.
 */
export function isTransient(error: unknown): boolean {
  const { code, errno } = error as { code?: string; errno?: string };
  // Bun's client: connection refused, closed or timed out (idle, connect, query).
  if (typeof code === 'string' && /^(ERR_POSTGRES_CONNECTION|ERR_POSTGRES_.*TIMEOUT|ECONN|ETIMEDOUT|EPIPE)/.test(code))
    return true;
  return typeof errno === 'string' && TRANSIENT_STATES.test(errno);
}

/** Runs a query; a transient failure becomes StorageUnavailableError (the API answers 503 with Retry-After). */
export async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isTransient(error))
      throw new StorageUnavailableError(`PostgreSQL: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}
