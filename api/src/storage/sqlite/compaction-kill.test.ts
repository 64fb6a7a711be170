/**
 * Compaction killed -9: a process moves rows into chunks step after step, and is killed after a
 * different number of steps each round — wherever its next transaction then is. After every kill
 * each reading is exactly once in the database, as a row or in a chunk (never both, never
 * neither): counted once, listed once, found by id, and SQLite's file is sound.
 */
import { afterAll, beforeAll, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredRow } from '../port.ts';
import { openSqliteStore } from './store.ts';

const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;
/** Compaction's bound: every day before today. */
const BOUND = today;
const STEP_READINGS = 150;

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compaction-kill-'));
  file = join(dir, 'readings.db');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 12,000 readings over 10 past days (40 devices, 2 metrics; every 50th id a text id) and 100 of today. */
function readings(): StoredRow[] {
  const past = Array.from({ length: 12_000 }, (_, i): StoredRow => {
    const ts = today - (1 + (i % 10)) * DAY + ((i * 7_919) % DAY);
    return {
      id: i % 50 === 0 ? `import-${i}` : Bun.randomUUIDv7('hex', ts),
      deviceId: `device-${i % 40}`,
      metric: i % 3 === 0 ? 'temp' : 'kwh',
      value: (i % 997) / 10,
      unit: i % 3 === 0 ? '°C' : 'kWh',
      ts,
      storedAt: ts + 500,
    };
  });
  const recent = Array.from({ length: 100 }, (_, i): StoredRow => {
    const ts = today + i * 1_000;
    return {
      id: Bun.randomUUIDv7('hex', ts),
      deviceId: 'device-0',
      metric: 'kwh',
      value: i,
      unit: 'kWh',
      ts,
      storedAt: ts,
    };
  });
  return [...past, ...recent];
}

/** A process that compacts in steps, printing a line after each, until killed or done. */
function compactor() {
  const script = `
    import { openSqliteStore } from ${JSON.stringify(join(import.meta.dir, 'store.ts'))};
    const store = openSqliteStore(${JSON.stringify(file)});
    for (;;) {
      const { done } = await store.compressReadingsBefore(${BOUND}, ${STEP_READINGS});
      console.log(done ? 'done' : 'step');
      if (done) break;
    }
    await store.close();
    process.exit(0);`;
  return Bun.spawn(['bun', '-e', script], { stdout: 'pipe', stderr: 'inherit' });
}

/** Waits for `steps` lines from the compactor (or its end), then kills it -9. Whether it finished. */
async function killAfter(steps: number): Promise<boolean> {
  const child = compactor();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = 0;
  let text = '';
  let finished = false;
  while (seen < steps && !finished) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    seen += lines.filter((line) => line === 'step').length;
    finished = lines.includes('done');
  }
  child.kill('SIGKILL');
  await child.exited;
  return finished;
}

/** Every reading exactly once: counted, listed and found by id as written; the file sound. */
async function expectEachOnce(written: readonly StoredRow[]) {
  const sound = new Database(file, { readonly: true });
  expect(sound.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
  const tiers = sound
    .query(
      'SELECT (SELECT count(*) FROM reading_rows) AS rows, (SELECT coalesce(sum(count), 0) FROM reading_chunks) AS kept',
    )
    .get() as { rows: number; kept: number };
  sound.close();
  expect(tiers.rows + tiers.kept).toBe(written.length);

  const store = openSqliteStore(file);
  try {
    expect(await store.count({})).toBe(written.length);
    const listed = await store.page({}, written.length + 10);
    expect(listed.length).toBe(written.length);
    expect(new Set(listed.map((row) => row.id))).toEqual(new Set(written.map((row) => row.id)));
    for (const row of [written[0], written[1], written[4_321], written[11_999]] as StoredRow[])
      expect(await store.get(row.id)).toEqual(row);
    return tiers;
  } finally {
    await store.close();
  }
}

it('compaction killed -9 after 1, 2, 5, 9 and 14 steps leaves every reading exactly once; then it finishes', async () => {
  const written = readings();
  const store = openSqliteStore(file);
  await store.insert(written.slice(0, 6_000));
  await store.insert(written.slice(6_000));
  await store.close();

  let compressed = 0;
  for (const steps of [1, 2, 5, 9, 14]) {
    if (await killAfter(steps)) break;
    const { kept } = await expectEachOnce(written);
    // Each round moved something: a kill undoes at most the step it lands in.
    expect(kept).toBeGreaterThan(compressed);
    compressed = kept;
  }
  // The rest, uninterrupted.
  expect(await killAfter(Number.POSITIVE_INFINITY)).toBe(true);
  const { rows, kept } = await expectEachOnce(written);
  expect(kept).toBe(12_000);
  expect(rows).toBe(100);
});
