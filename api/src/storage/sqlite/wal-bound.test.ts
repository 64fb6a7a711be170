import { afterAll, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from 'core';
import { waitFor } from 'core/testing';
import { createApp } from '../../app.ts';
import type { StoredRow } from '../port.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

const DAY = 86_400_000;
const MIB = 2 ** 20;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Late readings of 1,000 devices spread over 30 days: each batch dirties pages all over the file. */
function backfill(batch: number, size: number): StoredRow[] {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => {
    const n = batch * size + i;
    const ts = now - 30 * DAY + ((n * 7_919) % (30 * 24 * 60)) * 60_000 + (n % 60_000);
    return {
      id: `late-${String(n).padStart(8, '0')}`,
      deviceId: `device-${n % 1_000}`,
      metric: 'kwh',
      value: n % 91,
      unit: 'kWh',
      ts,
      storedAt: now,
    };
  });
}

/** A store on a new file, with WAL marks low enough that a few late batches cross them. */
async function storeWithMarks(walResetBytes: number, walHoldBytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'wal-bound-'));
  dirs.push(dir);
  const path = join(dir, 'wal.db');
  const store = await openThreadedSqliteStore(path, { walResetBytes, walHoldBytes, checkpointIntervalMs: 50 });
  return { path, store, walBytes: () => store.wal?.().bytes ?? 0 };
}

it('keeps the WAL small while readers overlap without a pause: the readers make way for a checkpoint that resets it', async () => {
  // What is checked is that the WAL is reset at all while readers never stop, not how fast.
  const { store, walBytes } = await storeWithMarks(8 * MIB, 24 * MIB);
  let writing = true;
  let reads = 0;
  // Three clients looping on statistics and listings over two reader threads: at every moment
  // some reader holds a snapshot, which alone would keep any checkpoint from resetting the WAL.
  const readLoop = async () => {
    while (writing) {
      await store.stats({}, 50, { limit: 100 });
      await store.page({}, 500);
      reads += 1;
    }
  };
  const readers = [readLoop(), readLoop(), readLoop()];
  let largest = 0;
  let written = 0;
  try {
    for (let batch = 0; batch < 150; batch++) {
      await store.insert(backfill(batch, 1_000));
      written += 1_000;
      largest = Math.max(largest, walBytes());
    }
  } finally {
    writing = false;
    await Promise.all(readers);
  }
  try {
    expect(reads).toBeGreaterThan(0);
    expect(await store.count({})).toBe(written);
    // Unbounded, this load left a WAL of ~500 MiB (932 MiB at 300,000 readings).
    expect(largest).toBeLessThanOrEqual(64 * MIB);
    // And /metrics says so.
    const resets = store.wal?.().resets ?? 0;
    expect(resets).toBeGreaterThan(0);
    const app = createApp({
      store,
      config: { apiToken: 'test-token', readToken: undefined, maxBodyBytes: 1_000_000 },
      logger: createLogger({ service: 'api', level: 'error', pretty: false, write: () => {} }),
    });
    const metrics = await (await app.handle(new Request('http://localhost/metrics'))).text();
    expect(metrics).toContain(`api_sqlite_wal_resets_total ${resets}`);
    expect(metrics).toMatch(/^api_sqlite_wal_bytes \d+$/m);
    expect(metrics).toMatch(/^api_storage_bytes\{part="data"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^api_storage_bytes\{part="wal"\} \d+$/m);
  } finally {
    await store.close();
  }
}, 120_000);

it('goes on writing while a reader of another process keeps the WAL from being emptied, and brings it back within its bound once that reader is gone', async () => {
  const { path, store, walBytes } = await storeWithMarks(2 * MIB, 4 * MIB);
  try {
    await store.insert(backfill(0, 1_000));
    // Another process's read transaction, left open: no checkpoint may empty the WAL past it.
    const outsider = new Database(path, { readonly: true });
    outsider.run('BEGIN');
    outsider.query('SELECT count(*) FROM reading_rows').get();
    for (let batch = 1; batch < 20; batch++) await store.insert(backfill(batch, 1_000));
    expect(walBytes()).toBeGreaterThan(4 * MIB);
    outsider.run('COMMIT');
    outsider.close();
    // Emptied by a reset, or begun again by the next write and cut to 64 MiB (journal_size_limit).
    let batch = 20;
    await waitFor(
      async () => {
        await store.insert(backfill(batch++, 1_000));
        return walBytes() <= 64 * MIB;
      },
      { what: 'the WAL back within its bound once the outside reader is gone', timeoutMs: 60_000 },
    );
    expect(await store.count({})).toBe(batch * 1_000);
  } finally {
    await store.close();
  }
}, 120_000);
