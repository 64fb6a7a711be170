import { type Logger, pipelineKeys } from 'core';
import type Redis from 'ioredis';
import type { StoreLifecycle } from '../../storage/port.ts';

/**
 * Notices, at start, a database that is not the one the readings were stored into before — the
 * file deleted and made anew, a backup restored over it, a PostgreSQL server re-initialized:
 * the readings stored there since are gone, and a restart answered ok without a word. The
 * identity is remembered in Redis; a different one is reported by /health until the operator
 * acknowledges it (POST /health/storage/acknowledge), which remembers the new one.
 */
export function watchStorageIdentity({
  redis,
  store,
  logger,
}: {
  redis: Redis;
  store: StoreLifecycle;
  logger: Logger;
}) {
  const key = pipelineKeys.storageIdentity(store.backend, store.location);
  let replaced: { was: string; now: string } | undefined;
  let checked = false;
  // Read once, at start: reading it may touch the disk, which /health must never wait on.
  const identity = store.identity().catch(() => undefined);

  /** Compares once Redis answers; retried by `problems()` until it has. */
  const check = async () => {
    const now = await identity;
    if (now === undefined) {
      checked = true;
      return;
    }
    const was = await redis.get(key);
    if (was === null) await redis.set(key, now);
    else if (was !== now) {
      replaced = { was, now };
      logger.error('storage_replaced', {
        location: store.location,
        was,
        now,
        hint: 'POST /health/storage/acknowledge once the readings are restored or rebuilt',
      });
    }
    checked = true;
  };
  let checking: Promise<void> | undefined = check().catch(() => {});
  void checking.finally(() => {
    checking = undefined;
  });

  return {
    /** /health's reason while a replaced database is not acknowledged. */
    problems(): string[] {
      if (!checked && !checking) {
        checking = check()
          .catch(() => {})
          .finally(() => {
            checking = undefined;
          });
      }
      if (!replaced) return [];
      return [
        `the database at ${store.location} is not the one readings were stored into before (${replaced.was} → ${replaced.now}): what was stored there is not in it — restore it, or store again what the stream still holds (bun run --cwd consumer-store rebuild); then POST /health/storage/acknowledge`,
      ];
    },
    /** The operator has seen it: the database now in place is the one from here on. */
    async acknowledge(): Promise<boolean> {
      if (!replaced) return false;
      await redis.set(key, replaced.now);
      logger.info('storage_replacement_acknowledged', { location: store.location, now: replaced.now });
      replaced = undefined;
      return true;
    },
  };
}

export type StorageIdentityWatch = ReturnType<typeof watchStorageIdentity>;
