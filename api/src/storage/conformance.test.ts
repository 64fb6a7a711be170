/**
 * One suite, every backend: what the API relies on from storage holds the same on SQLite and on
 * PostgreSQL (a real server this file starts, or TEST_DATABASE_URL's).
 */
import { afterAll, beforeAll, describe as suite, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestDatabase, usePostgres, waitFor } from 'core/testing';
import { FIXTURE_DEVICES, FIXTURE_TOTALS, STATS_FIXTURE } from '../stats-fixture.ts';
import type { ReadingsStore, StoredAlert, StoredRow } from './port.ts';
import { openPostgresStore } from './postgres/store.ts';
import { type SqliteStore, openSqliteStore } from './sqlite/store.ts';
import { openThreadedSqliteStore } from './sqlite/threaded-store.ts';

let postgres: TestDatabase;
let directory: string;
const opened: ReadingsStore[] = [];
let databases = 0;

beforeAll(async () => {
  postgres = await usePostgres();
  directory = await mkdtemp(join(tmpdir(), 'conformance-'));
});
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {});
  await postgres?.stop();
  await rm(directory, { recursive: true, force: true });
});

/** Each backend: a way to get a fresh, empty store, and more stores on the same data (instances). */
const backends = {
  sqlite: {
    async fresh() {
      const store = openSqliteStore(':memory:');
      opened.push(store);
      return { store, another: async () => store };
    },
  },
  // A file, as the API runs it: writer and reader threads, each with its own connection.
  'sqlite on threads': {
    async fresh() {
      const store = await openThreadedSqliteStore(join(directory, `${++databases}.db`));
      opened.push(store);
      return { store, another: async () => store };
    },
  },
  // Every reading compressed as soon as it is written: the compressed tier answers everything.
  // The change feed is of rows (compaction moves readings days old out of it), so not here.
  'sqlite, compressed': {
    skips: ['the change feed (ChangeFeed)'],
    async fresh() {
      const store = compressingEveryWrite(openSqliteStore(':memory:'));
      opened.push(store);
      return { store, another: async () => store };
    },
  },
  postgres: {
    async fresh() {
      const databaseUrl = await postgres.createDatabase();
      const open = async () => {
        const store = await openPostgresStore(databaseUrl, { poolSize: 4 });
        opened.push(store);
        return store;
      };
      return { store: await open(), another: open };
    },
  },
};

/** The store, its readings moved into compressed chunks after every write. */
function compressingEveryWrite(store: SqliteStore): ReadingsStore {
  const compressAll = async () => {
    while (!(await store.compressReadingsBefore(8.64e15, 1_000_000)).done);
  };
  const thenCompress =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await write(...args);
      await compressAll();
      return result;
    };
  return {
    ...store,
    insert: thenCompress(store.insert),
    patch: thenCompress(store.patch),
    remove: thenCompress(store.remove),
  };
}

let sequence = 0;
const DAY = 86_400_000;
const base = Date.UTC(2026, 10, 22, 10);
function row(overrides: Partial<StoredRow> = {}): StoredRow {
  sequence += 1;
  return {
    id: `r-${String(sequence).padStart(9, '0')}`,
    deviceId: 'device-001',
    metric: 'kwh',
    value: 42,
    unit: 'kWh',
    ts: base,
    storedAt: base + 5,
    ...overrides,
  };
}

function alert(overrides: Partial<StoredAlert> = {}): StoredAlert {
  sequence += 1;
  return {
    id: `a-${String(sequence).padStart(9, '0')}.1`,
    ruleId: 'hot',
    deviceId: 'device-001',
    metric: 'temp',
    value: 81.5,
    threshold: 80,
    state: 'firing',
    severity: 'warning',
    ts: base,
    readingId: `r-${sequence}`,
    note: null,
    silenced: false,
    quiet: false,
    raisedAt: base + 3,
    ackedBy: null,
    ackedAt: null,
    ackNote: null,
    ...overrides,
  };
}

for (const [name, backend] of Object.entries(backends)) {
  const skips: readonly string[] = 'skips' in backend ? backend.skips : [];
  const describe = (title: string, body: () => void) => (skips.includes(title) ? suite.skip : suite)(title, body);
  suite(`storage conformance: ${name}`, () => {
    describe('what a backend is (StoreLifecycle)', () => {
      it('says what it takes on disk, and more once readings are stored (nothing for a database in memory)', async () => {
        const { store } = await backend.fresh();
        const total = ({ data, wal }: { data: number; wal: number }) => data + wal;
        const before = await store.diskBytes();
        for (let batch = 0; batch < 5; batch++)
          await store.insert(Array.from({ length: 2_000 }, (_, i) => row({ ts: base + batch * DAY + i * 1_000 })));
        const after = await store.diskBytes();
        if (store.location === ':memory:') expect(after).toEqual({ data: 0, wal: 0 });
        else expect(total(after)).toBeGreaterThan(total(before));
      });
    });

    describe('writing (ReadingWrites)', () => {
      it('stores a batch once by id: repeats inside the batch and later batches are duplicates', async () => {
        const { store } = await backend.fresh();
        const batch = [row(), row({ ts: base + DAY * 3 }), row({ ts: base - DAY * 400 })];
        expect(await store.insert([...batch, { ...(batch[1] as StoredRow) }])).toEqual({
          inserted: 3,
          duplicates: 1,
          conflicts: [],
        });
        expect(await store.insert(batch)).toEqual({ inserted: 0, duplicates: 3, conflicts: [] });
        expect(await store.count({})).toBe(3);
      });

      it('reports the same id with other content as a conflict, within a batch and across batches; the first version stays', async () => {
        const { store } = await backend.fresh();
        const original = row();
        const changed = { ...original, value: 99, storedAt: original.storedAt + 1 };
        const outcome = await store.insert([original, row(), changed]);
        expect(outcome).toMatchObject({ inserted: 2, duplicates: 0 });
        expect(outcome.conflicts).toEqual([{ index: 2, offered: changed, stored: original }]);
        const later = { ...original, ts: original.ts + 1 };
        const again = await store.insert([later, { ...original, storedAt: original.storedAt + 5 }]);
        expect(again).toEqual({
          inserted: 0,
          duplicates: 1,
          conflicts: [{ index: 0, offered: later, stored: original }],
        });
        expect(await store.get(original.id)).toEqual(original);
      });

      it('stores each reading once when three instances insert the same ids at once', async () => {
        const { store, another } = await backend.fresh();
        const instances = [store, await another(), await another()];
        const batch = Array.from({ length: 2_000 }, (_, i) => row({ deviceId: `device-${i % 50}`, ts: base + i }));
        const outcomes = await Promise.all(
          instances.flatMap((instance) => [instance.insert(batch.slice(0, 1_500)), instance.insert(batch.slice(500))]),
        );
        expect(outcomes.reduce((sum, o) => sum + o.inserted, 0)).toBe(2_000);
        expect(await store.count({})).toBe(2_000);
      });

      it('gets, patches and removes by id, and says when there is nothing', async () => {
        const { store } = await backend.fresh();
        const stored = row({ ts: base - DAY });
        await store.insert([stored]);
        expect(await store.get(stored.id)).toEqual(stored);
        expect(await store.patch(stored.id, { value: 7.5, unit: 'Wh' })).toEqual({ ...stored, value: 7.5, unit: 'Wh' });
        expect(await store.patch('missing', { value: 1 })).toBeUndefined();
        expect(await store.remove(stored.id)).toBe(true);
        expect(await store.remove(stored.id)).toBe(false);
        expect(await store.get(stored.id)).toBeUndefined();
        // Removed, its id can be stored again.
        expect(await store.insert([stored])).toEqual({ inserted: 1, duplicates: 0, conflicts: [] });
      });
    });

    describe('reading back (ReadingReads)', () => {
      it('pages newest first, every row exactly once, while newer rows keep arriving', async () => {
        const { store } = await backend.fresh();
        const rows = Array.from({ length: 1_000 }, (_, i) =>
          row({ deviceId: `device-${i % 7}`, ts: base + Math.floor(i / 3) * 1_000 }),
        );
        await store.insert(rows);
        const seen: string[] = [];
        let after: { ts: number; id: string } | undefined;
        for (let page = 0; page < 20; page++) {
          await store.insert([row({ ts: base + DAY + page })]);
          const got = await store.page({ toMs: base + DAY }, 100, after);
          if (got.length === 0) break;
          seen.push(...got.map((r) => r.id));
          const last = got.at(-1) as StoredRow;
          after = { ts: last.ts, id: last.id };
        }
        expect(seen).toHaveLength(1_000);
        expect(new Set(seen).size).toBe(1_000);
        const expected = [...rows].sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1)).map((r) => r.id);
        expect(seen).toEqual(expected);
        // latest is the first page over everything.
        expect(await store.latest(50)).toEqual(await store.page({}, 50));
      });

      it('walks 200,000 rows oldest first in chunks, each once, with filters', async () => {
        const { store } = await backend.fresh();
        for (let start = 0; start < 200_000; start += 5_000) {
          await store.insert(
            Array.from({ length: 5_000 }, (_, i) =>
              row({ deviceId: `device-${(start + i) % 100}`, ts: base + start + i }),
            ),
          );
        }
        let after: { ts: number; id: string } | undefined;
        let total = 0;
        let previous = -1;
        for (;;) {
          const chunk = await store.chunk({}, 2_000, after);
          if (chunk.length === 0) break;
          total += chunk.length;
          expect((chunk[0] as StoredRow).ts).toBeGreaterThan(previous);
          const last = chunk.at(-1) as StoredRow;
          previous = last.ts;
          after = { ts: last.ts, id: last.id };
        }
        expect(total).toBe(200_000);
        expect(await store.count({ deviceId: 'device-7' })).toBe(2_000);
        expect(await store.count({ fromMs: base + 1_000, toMs: base + 2_000 })).toBe(1_000);
      }, 60_000);

      it('hands an export its chunks as text: the rows chunk reads, in order, formulas neutralised, resumed after each', async () => {
        const { store } = await backend.fresh();
        const rows = [
          row({ deviceId: '=cmd|calc', ts: base + 2 }),
          row({ metric: 'temp', value: -0.5, unit: '°C', ts: base + 1 }),
          row({ ts: base + 3 }),
        ];
        await store.insert(rows);
        const oldestFirst = [...rows].sort((a, b) => a.ts - b.ts);
        const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

        const first = await store.exportChunk({}, 2, undefined, 'ndjson');
        expect(first.rows).toBe(2);
        expect(first.last).toEqual({ ts: base + 2, id: oldestFirst[1]?.id as string });
        const rest = await store.exportChunk({}, 2, first.last ?? undefined, 'ndjson');
        expect({ rows: rest.rows, last: rest.last }).toEqual({
          rows: 1,
          last: { ts: base + 3, id: oldestFirst[2]?.id as string },
        });
        const lines = (decode(first.bytes) + decode(rest.bytes))
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line));
        expect(lines).toEqual(
          oldestFirst.map((r) => ({
            ...r,
            ts: new Date(r.ts).toISOString(),
            storedAt: new Date(r.storedAt).toISOString(),
          })),
        );

        const csv = decode((await store.exportChunk({ metric: 'kwh' }, 10, undefined, 'csv')).bytes);
        const iso = (ms: number) => new Date(ms).toISOString();
        const [, formula, plain] = oldestFirst as [StoredRow, StoredRow, StoredRow];
        expect(csv).toBe(
          `${formula.id},'=cmd|calc,kwh,42,kWh,${iso(formula.ts)},${iso(formula.storedAt)}\n${plain.id},device-001,kwh,42,kWh,${iso(plain.ts)},${iso(plain.storedAt)}\n`,
        );
        expect(await store.exportChunk({}, 10, rest.last ?? undefined, 'csv')).toEqual({
          bytes: new Uint8Array(),
          rows: 0,
          last: null,
        });
      });
    });

    describe('statistics and rollup maintenance (ReadingStatistics, RollupMaintenance)', () => {
      it('gives the hand-computed statistics', async () => {
        const { store } = await backend.fresh();
        await store.insert(STATS_FIXTURE.map((reading) => row({ ...reading, ts: Date.parse(reading.ts) })));
        const stats = await store.stats({}, 50, { limit: 1 });
        expect(stats).toEqual({
          ...FIXTURE_TOTALS,
          perDevice: FIXTURE_DEVICES.slice(0, 1),
          perDeviceTotal: 2,
          perDeviceTruncated: true,
        });
        const next = await store.stats({}, 25, { limit: 1, after: 'device-a' });
        expect(next.perDevice).toEqual([
          { deviceId: 'device-b', count: 3, min: 20, max: 30, mean: 80 / 3, overThreshold: 2 },
        ]);
        expect(next.perDeviceTruncated).toBe(false);
      });

      it('answers statistics over hundreds of scattered hours not compacted yet (a backfill of every other hour)', async () => {
        const { store } = await backend.fresh();
        // 600 hours, every other one, two devices: each hour is dirty until compaction runs.
        const rows = Array.from({ length: 600 }, (_, i) =>
          row({
            deviceId: i % 2 === 0 ? 'device-a' : 'device-b',
            value: i % 10,
            ts: base + 2 * i * 3_600_000 + 90_000,
          }),
        );
        await store.insert(rows);
        const stats = await store.stats({ fromMs: base - DAY, toMs: base + 60 * DAY }, 4.5, { limit: 10 });
        expect(stats.count).toBe(600);
        expect(stats.mean).toBe(4.5);
        expect(stats.perDevice.map((device) => [device.deviceId, device.count, device.overThreshold])).toEqual([
          ['device-a', 300, 120],
          ['device-b', 300, 180],
        ]);
      });

      it('keeps compacted hours and days exact when a late reading arrives and a device’s only reading of an hour goes', async () => {
        const { store } = await backend.fresh();
        const hour = Math.floor(base / 3_600_000) * 3_600_000;
        const [onlyA] = [row({ deviceId: 'device-a', value: 60, ts: hour + 60_000 })];
        await store.insert([onlyA as StoredRow, row({ deviceId: 'device-b', value: 10, ts: hour + 120_000 })]);
        const compactAll = async () => {
          while ((await store.compactRollups(hour + 3 * DAY, 1_000, [50])) > 0);
        };
        await compactAll();
        // Late: device-b again in the compacted hour; device-a's only reading of the hour removed.
        await store.insert([row({ deviceId: 'device-b', value: 70, ts: hour + 30 * 60_000 })]);
        expect(await store.remove((onlyA as StoredRow).id)).toBe(true);
        await compactAll();
        const stats = await store.stats({ fromMs: hour - DAY, toMs: hour + 2 * DAY }, 50, { limit: 10 });
        expect([stats.count, stats.min, stats.max, stats.mean]).toEqual([2, 10, 70, 40]);
        expect(stats.perDevice.map((device) => [device.deviceId, device.count, device.overThreshold])).toEqual([
          ['device-b', 2, 1],
        ]);
      });
    });

    describe('the change feed (ChangeFeed)', () => {
      it('feeds changes in order after any sequence number, and tells every instance of a change', async () => {
        const { store, another } = await backend.fresh();
        const other = await another();
        let heard = 0;
        other.onChange(() => {
          heard += 1;
        });
        expect(await store.lastSeq()).toBe(0);
        const first = [row(), row(), row()];
        await store.insert(first);
        await waitFor(() => heard > 0, { what: 'change heard by the other instance' });
        const all = await other.changesAfter(0, 100);
        expect(all.map((r) => r.id)).toEqual(first.map((r) => r.id));
        const mark = (all[0] as { seq: number }).seq;
        const second = [row(), row()];
        await other.insert(second);
        expect((await store.changesAfter(mark, 100)).map((r) => r.id)).toEqual(
          [...first.slice(1), ...second].map((r) => r.id),
        );
        expect((await store.recentChanges(2)).map((r) => r.id)).toEqual([
          second[1]?.id as string,
          second[0]?.id as string,
        ]);
        expect(await store.lastSeq()).toBe((await store.recentChanges(1))[0]?.seq as number);
      });
    });

    describe('the alert history (AlertHistory)', () => {
      it('keeps an alert’s acknowledgement: who, when and why, the first one staying; none for an id it does not have', async () => {
        const { store } = await backend.fresh();
        const fired = alert();
        await store.insertAlerts([fired]);
        const acked = await store.acknowledgeAlert(fired.id, { author: 'ops', note: 'on it', at: base + 60_000 });
        expect(acked).toEqual({ ...fired, ackedBy: 'ops', ackedAt: base + 60_000, ackNote: 'on it' });
        const again = await store.acknowledgeAlert(fired.id, { author: 'late', note: null, at: base + 90_000 });
        expect(again?.ackedBy).toBe('ops');
        expect(await store.alerts({}, 10)).toEqual([acked as StoredAlert]);
        expect(await store.acknowledgeAlert('no-such-alert', { author: 'ops', note: null, at: base })).toBeUndefined();
      });

      it('keeps the alert history: stored once by id, filtered, paged newest first exactly once, removed by age', async () => {
        const { store, another } = await backend.fresh();
        const alerts = Array.from({ length: 250 }, (_, i) =>
          alert({
            deviceId: `device-${i % 5}`,
            ruleId: i % 2 === 0 ? 'hot' : 'cold',
            state: i % 3 === 0 ? 'resolved' : 'firing',
            ts: base + Math.floor(i / 4) * 1_000,
            note: i === 7 ? 'rule removed' : null,
            silenced: i % 10 === 0,
            quiet: i === 9,
            // Absence alerts (a device gone quiet) have no value and no threshold.
            ...(i % 7 === 3 ? { value: null, threshold: null } : {}),
          }),
        );
        expect(await store.insertAlerts(alerts.slice(0, 200))).toEqual({ inserted: 200, duplicates: 0 });
        const other = await another();
        expect(await other.insertAlerts(alerts.slice(150))).toEqual({ inserted: 50, duplicates: 50 });
        const newestFirst = [...alerts].sort((a, b) => b.ts - a.ts || (b.id < a.id ? -1 : 1));
        const seen: StoredAlert[] = [];
        let after: { ts: number; id: string } | undefined;
        for (;;) {
          const page = await store.alerts({}, 33, after);
          if (page.length === 0) break;
          seen.push(...page);
          const last = page.at(-1) as StoredAlert;
          after = { ts: last.ts, id: last.id };
        }
        expect(seen).toEqual(newestFirst);
        const filter = {
          deviceId: 'device-2',
          ruleId: 'hot',
          state: 'firing' as const,
          fromMs: base + 10_000,
          toMs: base + 40_000,
        };
        const expected = newestFirst.filter(
          (a) =>
            a.deviceId === filter.deviceId &&
            a.ruleId === filter.ruleId &&
            a.state === filter.state &&
            a.ts >= filter.fromMs &&
            a.ts < filter.toMs,
        );
        expect(expected.length).toBeGreaterThan(0);
        expect(await store.alerts(filter, 1_000)).toEqual(expected);
        const cutoff = base + 20_000;
        const older = alerts.filter((a) => a.ts < cutoff).length;
        let removed = 0;
        for (
          let step = await store.removeAlertsBefore(cutoff, 30);
          step > 0;
          step = await store.removeAlertsBefore(cutoff, 30)
        )
          removed += step;
        expect(removed).toBe(older);
        expect(await store.alerts({}, 1_000)).toEqual(newestFirst.filter((a) => a.ts >= cutoff));
      });
    });

    describe('retention (ReadingRetention)', () => {
      it('retention removes exactly the readings measured before the bound, in steps, and never one after it', async () => {
        const { store, another } = await backend.fresh();
        const other = await another();
        const now = Date.now();
        // Every 90 minutes over ten days, from 20 devices; the bound falls mid-day.
        const rows = Array.from({ length: 160 }, (_, i) =>
          row({ deviceId: `device-${i % 20}`, ts: now - 10 * DAY + i * 90 * 60_000 }),
        );
        await store.insert(rows);
        // The other instance has written to the oldest day too: it knows that day's partition.
        const early = row({ ts: now - 10 * DAY + 1 });
        await other.insert([early]);
        const bound = now - 3.5 * DAY;
        const older = [...rows, early].filter((r) => r.ts < bound);
        let removed = 0;
        for (let steps = 0; ; steps++) {
          expect(steps).toBeLessThan(1_000);
          const step = await store.removeReadingsBefore(bound, 7);
          removed += step.removed;
          if (step.done) break;
        }
        expect(removed).toBe(older.length);
        const left = [...rows, early].filter((r) => r.ts >= bound);
        expect(await store.count({})).toBe(left.length);
        expect(await store.oldestReadingTs()).toBe(Math.min(...left.map((r) => r.ts)));
        expect((await store.chunk({}, 1_000)).map((r) => r.id)).toEqual(
          [...left].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1)).map((r) => r.id),
        );
        // A reading of a removed day arriving late (through either instance) is stored again.
        expect((await other.insert([early])).inserted).toBe(1);
        expect(await store.oldestReadingTs()).toBe(early.ts);
        expect(await store.removeReadingsBefore(bound, 1_000)).toMatchObject({ removed: 1 });
      });
    });
  });
}
