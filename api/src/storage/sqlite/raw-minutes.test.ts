/**
 * Compressed days keep no device minute rows (raw-minutes.ts): /stats reads a device's partial
 * hours there from raw readings, late readings add none, and retention makes them rows again
 * before it removes raw readings — every answer the same as a store that never compressed.
 */
import { afterAll, describe, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadingFilter, StoredRow } from '../port.ts';
import { type SqliteStore, openSqliteStore } from './store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const DAY_MS = 86_400_000;
const DAY0 = Math.floor(1_790_000_000_000 / DAY_MS) * DAY_MS;
const THRESHOLDS = [20];

/** Three devices, two metrics, a reading every ~7 minutes over three days. */
function readings(): StoredRow[] {
  const rows: StoredRow[] = [];
  for (let n = 0; n < 1_800; n++) {
    const ts = DAY0 + n * 431_000 + (n % 7) * 1_000;
    rows.push({
      id: `r-${n}`,
      deviceId: `pump-${n % 3}`,
      metric: n % 2 ? 'temp' : 'kwh',
      value: (n * 37) % 41,
      unit: n % 2 ? '°C' : 'kWh',
      ts,
      storedAt: ts + 5,
    });
  }
  return rows;
}

async function opened(): Promise<{ store: SqliteStore; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'raw-minutes-'));
  dirs.push(dir);
  const path = join(dir, 'readings.db');
  return { store: openSqliteStore(path, { checkpoint: false }), path };
}

/** What the database holds of device minutes and the days without them, read beside the store. */
function minuteRows(path: string, beforeMs: number) {
  const sqlite = new Database(path, { readonly: true });
  try {
    const { n } = sqlite
      .query('SELECT count(*) AS n FROM rollups_device WHERE level = 1 AND start_minute < ?')
      .get(beforeMs / 60_000) as { n: number };
    const days = sqlite.query('SELECT day, from_raw AS fromRaw FROM device_minute_days ORDER BY day').all();
    return { n, days };
  } finally {
    sqlite.close();
  }
}

/** Windows with partial minutes and hours at both ends, within and across the compressed days. */
const windows: ReadingFilter[] = [
  { fromMs: DAY0 + 37 * 60_000 + 13_000, toMs: DAY0 + DAY_MS + 5 * 3_600_000 + 11 * 60_000 },
  { fromMs: DAY0 + 2 * 3_600_000 + 59 * 60_000, toMs: DAY0 + 3 * 3_600_000 + 7 * 60_000 + 500 },
  { fromMs: DAY0 + DAY_MS - 17 * 60_000, toMs: DAY0 + 2 * DAY_MS + 17 * 60_000 },
  {},
];

async function statsOf(store: SqliteStore) {
  const answers = [];
  for (const window of windows) {
    for (const filter of [window, { ...window, deviceId: 'pump-1' }, { ...window, metric: 'temp' }]) {
      // A configured threshold (counted by compaction) and one that is not (opened to raw readings).
      for (const threshold of [20, 17.5]) answers.push(await store.stats(filter, threshold, { limit: 10 }));
    }
  }
  return answers;
}

async function compressBefore(store: SqliteStore, beforeMs: number) {
  // Small steps: a day's minute rows go in several.
  while (!(await store.compressReadingsBefore(beforeMs, 50)).done);
}

async function compact(store: SqliteStore) {
  while ((await store.compactRollups(8.64e15, 100, THRESHOLDS)) > 0);
}

describe('compressed days without device minute rows', () => {
  it('answer /stats as rows do, through late readings, edits and retention', async () => {
    const { store: compressed, path } = await opened();
    const { store: rows } = await opened();
    const all = readings();
    for (const store of [compressed, rows]) {
      await store.insert(all);
      await compact(store);
    }
    const bound = DAY0 + 2 * DAY_MS;
    const day = DAY0 / DAY_MS;
    // Midway: every reading moved and both days listed, some of their minute rows not removed yet.
    while ((await compressed.compressReadingsBefore(bound, 50)).moved > 0);
    const midway = minuteRows(path, bound);
    expect(midway.n).toBeGreaterThan(0);
    expect(midway.days).toHaveLength(2);
    expect(await statsOf(compressed)).toEqual(await statsOf(rows));
    await compressBefore(compressed, bound);
    expect(minuteRows(path, bound)).toEqual({
      n: 0,
      days: [
        { day, fromRaw: 1 },
        { day: day + 1, fromRaw: 1 },
      ],
    });
    expect(await statsOf(compressed)).toEqual(await statsOf(rows));

    // A late reading into a compressed day, and a compressed reading changed: still no minute rows.
    const late: StoredRow = { ...(all[5] as StoredRow), id: 'late-1', ts: DAY0 + 3_600_000 + 1_234, value: 39 };
    for (const store of [compressed, rows]) {
      await store.insert([late]);
      await store.patch('r-10', { value: 3.5 });
      await store.remove('r-11');
      await compact(store);
    }
    expect(minuteRows(path, bound).n).toBe(0);
    expect(await statsOf(compressed)).toEqual(await statsOf(rows));

    // Retention across the second day: both compressed days keep minute rows again, for good.
    const retained = DAY0 + DAY_MS + 6 * 3_600_000;
    for (const store of [compressed, rows]) while (!(await store.removeReadingsBefore(retained, 200)).done);
    await compressBefore(compressed, bound);
    const { n, days } = minuteRows(path, bound);
    expect(n).toBeGreaterThan(0);
    expect(days).toEqual([
      { day, fromRaw: 0 },
      { day: day + 1, fromRaw: 0 },
    ]);
    expect(await statsOf(compressed)).toEqual(await statsOf(rows));
    await compressed.close();
    await rows.close();
  });
});
