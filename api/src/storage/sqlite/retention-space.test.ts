import { afterAll, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from 'core/testing';
import type { StoredRow } from '../port.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

it('gives the space of removed readings back to the file system (incremental vacuum), off the write path in steps', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'retention-space-'));
  dirs.push(dir);
  const path = join(dir, 'retention.db');
  const store = await openThreadedSqliteStore(path);
  try {
    const old = Date.now() - 40 * 86_400_000;
    for (let batch = 0; batch < 20; batch++) {
      const rows: StoredRow[] = Array.from({ length: 5_000 }, (_, i) => ({
        id: `old-${batch}-${String(i).padStart(5, '0')}`,
        deviceId: `device-${i % 1_000}`,
        metric: 'kwh',
        value: i,
        unit: 'kWh',
        ts: old + batch * 5_000 + i,
        storedAt: old,
      }));
      await store.insert(rows);
    }
    await store.insert([
      {
        id: 'recent',
        deviceId: 'device-1',
        metric: 'kwh',
        value: 1,
        unit: 'kWh',
        ts: Date.now(),
        storedAt: Date.now(),
      },
    ]);
    // The size of the main file once the whole WAL is written into it: a checkpoint can find the
    // store's own threads busy (it then does part of the work), so it is asked until it is done.
    const fileSize = async () => {
      const probe = new Database(path);
      try {
        await waitFor(() => (probe.query('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number }).busy === 0, {
          what: 'a complete checkpoint',
        });
      } finally {
        probe.close();
      }
      return statSync(path).size;
    };
    const full = await fileSize();
    for (
      let step = await store.removeReadingsBefore(Date.now() - 86_400_000, 5_000);
      !step.done;
      step = await store.removeReadingsBefore(Date.now() - 86_400_000, 5_000)
    );
    while (await store.reclaimSpace());
    expect(await store.count({})).toBe(1);
    expect(await fileSize()).toBeLessThan(full / 4);
  } finally {
    await store.close();
  }
});
