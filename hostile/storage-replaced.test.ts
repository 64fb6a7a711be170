import { describe, expect, it } from 'bun:test';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from 'core/testing';
import { createApp } from '../api/src/app.ts';
import { watchStorageIdentity } from '../api/src/modules/system/storage-identity.ts';
import { openThreadedSqliteStore } from '../api/src/storage/sqlite/threaded-store.ts';
import { TEST_TOKEN } from '../api/src/test-helpers.ts';
import { quiet, useTestGround } from './support.ts';

// The database file deleted (or a backup restored over it) while the API was down: a restart
// answered ok, with nothing about the readings that went with the file.
const ground = useTestGround('storage');

/** The API as started on the database file: its /health reasons, and the acknowledging call. */
async function start(file: string) {
  const store = await openThreadedSqliteStore(file);
  const storageIdentity = watchStorageIdentity({ redis: ground.redis, store, logger: quiet });
  const app = createApp({
    store,
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 1_000_000 },
    logger: quiet,
    storageIdentity,
  });
  const reasons = async () =>
    ((await (await app.handle(new Request('http://localhost/health'))).json()) as { reasons: string[] }).reasons.join(
      ' ',
    );
  const acknowledge = async () =>
    (
      await app.handle(
        new Request('http://localhost/health/storage/acknowledge', {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKEN}` },
        }),
      )
    ).json();
  return { store, reasons, acknowledge };
}

describe('a database lost between two starts', () => {
  it('is named by /health at the next start until the operator acknowledges it', async () => {
    const file = join(ground.dir, 'telemetry.db');
    const first = await start(file);
    await waitFor(async () => (await ground.redis.keys('*')).length > 0, { what: 'the identity remembered' });
    expect(await first.reasons()).toBe('');
    await first.store.close();

    const again = await start(file);
    expect(await again.reasons()).toBe('');
    await again.store.close();

    for (const suffix of ['', '-wal', '-shm']) await rm(`${file}${suffix}`, { force: true });
    const replaced = await start(file);
    const reason = await waitFor(
      async () => {
        const text = await replaced.reasons();
        return text.includes('is not the one readings were stored into before') && text;
      },
      { what: '/health naming the lost database' },
    );
    expect(reason).toContain('POST /health/storage/acknowledge');
    expect(await replaced.acknowledge()).toEqual({ acknowledged: true });
    expect(await replaced.reasons()).toBe('');
    await replaced.store.close();

    const after = await start(file);
    expect(await after.reasons()).toBe('');
    await after.store.close();
  });
});
