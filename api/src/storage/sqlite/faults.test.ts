/**
 * SQLite under real storage faults, on a small tmpfs this test mounts (root only: CI runs as
 * root): a full disk and the database file deleted. Each answers 503 with Retry-After (never
 * 500), /health says down with the reason within seconds, nothing acknowledged is lost, and the
 * API recovers by itself once the fault is fixed. (A filesystem cannot be remounted read-only
 * while SQLite holds the file open, and an immutable -shm file crashes the process on its
 * mapping; the read-only case is acted out on ext4, with an immutable write-ahead log, in
 * hung-disk.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from 'core';
import { waitFor } from 'core/testing';
import { createApp } from '../../app.ts';
import { TEST_TOKEN, readingBody } from '../../test-helpers.ts';
import type { ReadingsStore } from '../port.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

const isRoot = process.getuid?.() === 0;
let dir: string;
const stores: ReadingsStore[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  dir = await mkdtemp(join(tmpdir(), 'sqlite-faults-'));
  await Bun.$`mount -t tmpfs -o size=16m tmpfs ${dir}`;
});
afterAll(async () => {
  if (!isRoot) return;
  for (const store of stores) await store.close().catch(() => {});
  await Bun.$`umount -l ${dir}`.nothrow();
  await rm(dir, { recursive: true, force: true });
});

async function api(file: string) {
  const store = await openThreadedSqliteStore(join(dir, file), { probeIntervalMs: 200 });
  stores.push(store);
  const app = createApp({
    store,
    config: { apiToken: TEST_TOKEN, readToken: undefined, maxBodyBytes: 4_000_000 },
    logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
  });
  const post = (count: number) =>
    app.handle(
      new Request('http://localhost/readings/batch', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          readings: Array.from({ length: count }, () =>
            readingBody({ unit: 'u'.repeat(32), ts: new Date().toISOString() }),
          ),
        }),
      }),
    );
  const health = async () =>
    (await (await app.handle(new Request('http://localhost/health'))).json()) as { status: string; reasons: string[] };
  return { store, post, health };
}

describe.skipIf(!isRoot)('SQLite storage faults on a real filesystem', () => {
  it('a full disk: 503 with Retry-After, /health down, nothing acknowledged lost, writes again once space is back', async () => {
    const { store, post, health } = await api('full.db');
    let acknowledged = 0;
    const statuses = new Set<number>();
    // Fill the filesystem, then keep writing until SQLite runs out of room.
    await Bun.write(join(dir, 'filler'), new Uint8Array(15 * 1024 * 1024)).catch(() => {});
    let refused: Response | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const response = await post(500);
      statuses.add(response.status);
      if (response.status === 200) acknowledged += ((await response.json()) as { inserted: number }).inserted;
      else refused = response;
    }
    expect([...statuses].every((status) => status === 200 || status === 503)).toBe(true);
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get('retry-after')).toBe('1');
    const down = await waitFor(
      async () => {
        const current = await health();
        return current.status === 'down' && current;
      },
      { what: '/health down' },
    );
    expect(down.reasons.join(' ')).toContain('full');
    await rm(join(dir, 'filler'));
    await waitFor(
      async () => {
        const response = await post(10);
        if (response.status === 200) acknowledged += ((await response.json()) as { inserted: number }).inserted;
        return response.status === 200;
      },
      { what: 'writes again' },
    );
    // A small write that fits does not clear it: the batches that failed may still not fit.
    const flattering = await health();
    expect(flattering.status).toBe('down');
    expect(flattering.reasons.join(' ')).toContain('a write of 500 rows; down until one as large succeeds');
    const batch = await post(500);
    expect(batch.status).toBe(200);
    acknowledged += ((await batch.json()) as { inserted: number }).inserted;
    await waitFor(async () => (await health()).status === 'ok', { what: '/health ok again' });
    expect(await store.count({})).toBe(acknowledged);
  }, 60_000);

  it('the database file deleted under the API: down with the reason, and writes refused rather than lost', async () => {
    const { post, health } = await api('deleted.db');
    expect((await post(10)).status).toBe(200);
    await rm(join(dir, 'deleted.db'));
    await rm(join(dir, 'deleted.db-wal'), { force: true });
    await rm(join(dir, 'deleted.db-shm'), { force: true });
    const down = await waitFor(
      async () => {
        const current = await health();
        return current.status === 'down' && current;
      },
      { what: '/health down' },
    );
    expect(down.reasons.join(' ')).toContain('was deleted while the API ran');
    const refused = await post(10);
    expect(refused.status).toBe(503);
    expect((await refused.json()).message).toContain('writes are refused');
  }, 60_000);
});
