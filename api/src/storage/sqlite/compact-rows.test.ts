import { afterAll, describe, expect, it } from 'bun:test';
import { Database } from 'bun:sqlite';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import type { StoredRow } from '../port.ts';
import { idOf, storedId } from '../id-bytes.ts';
import { openSqliteStore } from './store.ts';

const MIGRATIONS = join(import.meta.dir, '../../../drizzle/sqlite');
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const T = 1_790_000_000_000;
const row = (id: string, n: number, fields: Partial<StoredRow> = {}): StoredRow => ({
  id,
  deviceId: `pump-${n % 3}`,
  metric: n % 2 ? 'temp' : 'kwh',
  value: n + 0.25,
  unit: n % 2 ? '°C' : 'kWh',
  ts: T + n * 1_000,
  storedAt: T + n * 1_000 + 7,
  ...fields,
});

/** How many stored ids are kept as bytes and how many as text, read beside the store. */
function idKinds(path: string) {
  const sqlite = new Database(path, { readonly: true });
  try {
    return sqlite.query('SELECT typeof(id) AS kind, count(*) AS n FROM reading_rows GROUP BY 1 ORDER BY 1').all();
  } finally {
    sqlite.close();
  }
}

// Canonical UUIDs are kept as 16 bytes; these others as text, and every one reads back as given.
const ids = [
  '0199d1a0-0000-7000-8000-000000000001',
  '0199D1A0-0000-7000-8000-000000000002',
  'sensor-batch-17',
  '0199d1a0-0000-7000-8000-00000000000',
  'x',
];

describe('compact reading rows on SQLite', () => {
  it('keep exactly the canonical lowercase UUIDs as bytes, and turn those back into the same text', () => {
    for (let i = 0; i < 100; i++) {
      const id = Bun.randomUUIDv7();
      const kept = storedId(id);
      expect(kept).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(kept as Uint8Array).toString('hex')).toBe(id.replaceAll('-', ''));
      expect(idOf(kept)).toBe(id);
    }
    const near = [
      '0199D1A0-0000-7000-8000-000000000002',
      '0199d1a0-0000-7000-8000-00000000000g',
      '0199d1a0-0000-7000-8000-00000000000',
      '0199d1a0-0000-7000-8000_000000000001',
      '0199d1a000007000-8000-0000000000012-3',
      ' 199d1a0-0000-7000-8000-000000000001',
    ];
    for (const id of near) expect(storedId(id)).toBe(id);
  });

  it('store ids, devices, metrics and units compactly and give every reading back exactly as it was given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compact-rows-'));
    dirs.push(dir);
    const path = join(dir, 'compact.db');
    const store = openSqliteStore(path);
    try {
      const rows = ids.map((id, n) => row(id, n));
      expect((await store.insert(rows)).inserted).toBe(ids.length);
      // The same again: duplicates, and one id with other content: a conflict naming both.
      const again = await store.insert([...rows, { ...rows[0]!, value: 99 }]);
      expect(again).toMatchObject({
        inserted: 0,
        duplicates: ids.length,
        conflicts: [{ index: ids.length, stored: rows[0] }],
      });
      for (const given of rows) expect(await store.get(given.id)).toEqual(given);
      expect(await store.get(ids[0]!.toUpperCase())).toBeUndefined();
      expect((await store.page({}, 10)).map((r) => r.id)).toEqual([...ids].reverse());
      expect((await store.page({ deviceId: 'pump-1' }, 10)).map((r) => r.id)).toEqual([ids[4]!, ids[1]!]);

      // Readings of one millisecond with ids of both kinds: paged one at a time either way, each
      // comes once, and the two orders are each other's reverse.
      const same = [
        '0199d1a0-0000-7000-8000-0000000000aa',
        'tie-b',
        '0199d1a0-0000-7000-8000-0000000000ab',
        'tie-a',
      ].map((id) => row(id, 50, { deviceId: 'tied' }));
      await store.insert(same);
      const forward: string[] = [];
      for (
        let last: StoredRow | undefined, page;
        (page = await store.chunk({ deviceId: 'tied' }, 1, last && { ts: last.ts, id: last.id })).length > 0;
      )
        forward.push((last = page[0]!).id);
      const backward: string[] = [];
      for (
        let last: StoredRow | undefined, page;
        (page = await store.page({ deviceId: 'tied' }, 1, last && { ts: last.ts, id: last.id })).length > 0;
      )
        backward.push((last = page[0]!).id);
      expect([...forward].sort()).toEqual(same.map((r) => r.id).sort());
      expect(backward).toEqual([...forward].reverse());

      // PATCH to a metric and unit never seen before, then DELETE.
      const patched = await store.patch(ids[2]!, { metric: 'pressure', unit: 'bar', value: 3 });
      expect(patched).toEqual({ ...rows[2]!, metric: 'pressure', unit: 'bar', value: 3 });
      expect(await store.count({ metric: 'pressure' })).toBe(1);
      expect(idKinds(path)).toEqual([
        { kind: 'blob', n: 3 },
        { kind: 'text', n: 6 },
      ]);
      expect(await store.remove(ids[0]!)).toBe(true);
      expect(await store.get(ids[0]!)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('a database made before them moves into them on start, the change feed going on from where it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compact-migrate-'));
    dirs.push(dir);
    // The migrations up to 0003, as a database of the previous release has them.
    const before = join(dir, 'migrations');
    await cp(MIGRATIONS, before, { recursive: true });
    const journalPath = join(before, 'meta/_journal.json');
    const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    journal.entries = journal.entries.filter((entry) => entry.tag < '0004');
    await writeFile(journalPath, JSON.stringify(journal));
    const path = join(dir, 'old.db');
    const old = new Database(path, { strict: true });
    migrate(drizzle({ client: old }), { migrationsFolder: before });
    const rows = ids.map((id, n) => row(id, n));
    const insert = old.prepare(
      'INSERT INTO readings (id, device_id, metric, value, unit, ts, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const r of rows) insert.run(r.id, r.deviceId, r.metric, r.value, r.unit, r.ts, r.storedAt);
    old.run(
      "INSERT INTO rollups_device (level, start_minute, device_id, metric, count, sum, min, max) VALUES (1, 7, 'pump-9', 'kwh', 2, 40.0, 10.0, 30.5)",
    );
    old.close();

    const store = openSqliteStore(path);
    try {
      for (const given of rows) expect(await store.get(given.id)).toEqual(given);
      const feed = await store.changesAfter(0, 10);
      expect(feed.map((r) => [r.seq, r.id])).toEqual(ids.map((id, n) => [n + 1, id]));
      const next = row('0199d1a0-0000-7000-8000-0000000000ff', 9);
      expect((await store.insert([next, rows[1]!])).inserted).toBe(1);
      expect(await store.lastSeq()).toBe(ids.length + 1);
      expect(await store.count({ deviceId: 'pump-0' })).toBe(3);
    } finally {
      await store.close();
    }
    expect(idKinds(path)).toEqual([
      { kind: 'blob', n: 2 },
      { kind: 'text', n: 4 },
    ]);
    const sqlite = new Database(path, { readonly: true });
    try {
      // The rollups came along, whole numbers now kept as integers (migration 0005).
      expect(
        sqlite
          .query(
            "SELECT count, sum, typeof(sum) AS sumType, min, max, typeof(max) AS maxType FROM rollups_device WHERE device_id = 'pump-9'",
          )
          .get(),
      ).toEqual({
        count: 2,
        sum: 40,
        sumType: 'integer',
        min: 10,
        max: 30.5,
        maxType: 'real',
      });
    } finally {
      sqlite.close();
    }
  });
});
