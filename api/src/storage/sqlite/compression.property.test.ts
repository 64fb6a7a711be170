/**
 * Compression changes where a reading is kept, never what the store answers: two stores take the
 * same writes, one compressing whole days into chunks at random moments (in small steps, so rows
 * and chunks mix), and every answer of writing, reading back and retention is compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cursor, ReadingFilter, ReadingsStore, Stats, StoredRow } from '../port.ts';
import { type SqliteStore, openSqliteStore } from './store.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'compression-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const DAY = 86_400_000;
const START = Date.UTC(2026, 9, 1);
const DAYS = 8;
const DEVICES = ['pump-1', 'pump-2', 'meter-1', 'Zähler-1'];
const METRICS = ['kwh', 'temp'];

/** Small, seeded: a failure names its seed and happens again. */
function randomFrom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (below: number) => Math.floor(next() * below),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T,
  };
}
type Random = ReturnType<typeof randomFrom>;

let sequence = 0;
function reading(random: Random): StoredRow {
  sequence += 1;
  const ts = START + random.int(DAYS * DAY);
  // Most arrive within seconds; some days late (devices that buffered while offline).
  const lead = random.next() < 0.8 ? random.int(5_000) : random.int(5 * DAY);
  const kind = random.next();
  const id =
    kind < 0.85
      ? Bun.randomUUIDv7('hex', ts + lead)
      : kind < 0.93
        ? `reading-${sequence}`
        : Bun.randomUUIDv7('hex', ts).toUpperCase();
  const metric = random.pick(METRICS);
  const value = random.next() < 0.5 ? random.int(100) : Math.round(random.next() * 10_000) / 100;
  return {
    id,
    deviceId: random.pick(DEVICES),
    metric,
    value,
    unit: metric === 'kwh' ? 'kWh' : random.next() < 0.95 ? '°C' : 'K',
    ts,
    storedAt: ts + lead,
  };
}

/** Every reading of `filter`, walked page by page in one order. */
async function walk(
  store: ReadingsStore,
  order: 'page' | 'chunk',
  filter: ReadingFilter,
  limit: number,
): Promise<StoredRow[]> {
  const all: StoredRow[] = [];
  let after: Cursor | undefined;
  for (;;) {
    const page = await store[order](filter, limit, after);
    all.push(...page);
    if (page.length < limit) return all;
    const last = page.at(-1) as StoredRow;
    after = { ts: last.ts, id: last.id };
  }
}

function filterFrom(random: Random): ReadingFilter {
  const filter: ReadingFilter = {};
  if (random.next() < 0.4) filter.deviceId = random.pick(DEVICES);
  if (random.next() < 0.4) filter.metric = random.pick(METRICS);
  if (random.next() < 0.5) {
    const from = START + random.int(DAYS * DAY);
    filter.fromMs = from;
    filter.toMs = from + random.int(3 * DAY);
  }
  return filter;
}

/** The same statistics; means within rounding (sums of raw edges add in another order). */
function sameStats(actual: Stats, wanted: Stats) {
  const means = (stats: Stats) => [
    stats.mean,
    ...stats.series.points.map((p) => p.mean),
    ...stats.perDevice.map((d) => d.mean),
  ];
  const withoutMeans = (stats: Stats) => ({
    ...stats,
    mean: null,
    series: { ...stats.series, points: stats.series.points.map((point) => ({ ...point, mean: null })) },
    perDevice: stats.perDevice.map((device) => ({ ...device, mean: 0 })),
  });
  expect(withoutMeans(actual)).toEqual(withoutMeans(wanted));
  const wantedMeans = means(wanted);
  means(actual).forEach((mean, i) => {
    if (mean === null) expect(wantedMeans[i]).toBeNull();
    else expect(mean).toBeCloseTo(wantedMeans[i] as number, 6);
  });
}

async function sameAnswers(random: Random, rows: SqliteStore, mixed: SqliteStore, ids: readonly string[]) {
  const filter = filterFrom(random);
  const bucket = random.pick(['minute', 'hour', 'day'] as const);
  const threshold = random.pick([0, 42, 50.5, 99]);
  sameStats(
    await mixed.stats(filter, threshold, { limit: 10 }, bucket),
    await rows.stats(filter, threshold, { limit: 10 }, bucket),
  );
  for (const id of [...ids, 'no-such-reading', Bun.randomUUIDv7()])
    expect(await mixed.get(id)).toEqual(await rows.get(id));
  for (let i = 0; i < 6; i++) {
    const filter = filterFrom(random);
    expect(await mixed.count(filter)).toBe(await rows.count(filter));
    for (const order of ['page', 'chunk'] as const) {
      const limit = random.pick([1, 7, 100, 5_000]);
      expect(await walk(mixed, order, filter, limit)).toEqual(await walk(rows, order, filter, limit));
    }
  }
  expect(await mixed.latest(20)).toEqual(await rows.latest(20));
  expect(await mixed.oldestReadingTs()).toBe(await rows.oldestReadingTs());
}

describe('compressed readings', () => {
  // The last on a file, as the API runs it: compaction on the writer's thread, reads on the
  // readers' own connections (their decoded copies of chunks the writer then rewrites).
  for (const [seed, threads] of [
    [1, false],
    [2, false],
    [3, false],
    [4, true],
  ] as const) {
    it(`answer every write and read as rows do, through compaction at random moments (seed ${seed}${threads ? ', on threads' : ''})`, async () => {
      const random = randomFrom(seed);
      const rows = openSqliteStore(':memory:');
      const mixed = threads
        ? ((await openThreadedSqliteStore(join(directory, `${seed}.db`))) as SqliteStore)
        : openSqliteStore(':memory:');
      const ids: string[] = [];
      let moved = 0;
      try {
        for (let round = 0; round < 12; round++) {
          const batch = Array.from({ length: 150 }, () => reading(random));
          // Again: some already stored (rows or chunks), some with other content (conflicts).
          for (let i = 0; i < 10 && ids.length > 0; i++) {
            const again = await rows.get(random.pick(ids));
            // Removed since: nothing to send again.
            if (!again) continue;
            batch.push(random.next() < 0.5 ? again : { ...again, value: again.value + 1 });
          }
          ids.push(...batch.map((row) => row.id));
          expect(await mixed.insert(batch)).toEqual(await rows.insert(batch));

          for (let i = 0; i < 3; i++) {
            const id = random.pick(ids);
            const fields = random.pick([{ value: random.int(1000) }, { unit: 'Wh' }, { metric: random.pick(METRICS) }]);
            expect(await mixed.patch(id, fields)).toEqual(await rows.patch(id, fields));
          }
          const removed = random.pick(ids);
          expect(await mixed.remove(removed)).toBe(await rows.remove(removed));

          const bound = START + random.int(DAYS + 2) * DAY;
          moved += (await mixed.compressReadingsBefore(bound, random.pick([50, 400, 100_000]))).moved;
          if (round % 4 === 3) await sameAnswers(random, rows, mixed, ids);
        }
        expect(moved).toBeGreaterThan(0);

        // Retention across the boundary between rows and chunks, in steps.
        const bound = START + 3 * DAY + random.int(DAY);
        for (const store of [rows, mixed]) while (!(await store.removeReadingsBefore(bound, 97)).done);
        await sameAnswers(random, rows, mixed, ids);
      } finally {
        await rows.close();
        await mixed.close();
      }
    }, 60_000);
  }
});
