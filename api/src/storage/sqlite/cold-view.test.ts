import { afterAll, beforeAll, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, openReader } from './client.ts';
import { coldViewOf } from './cold-view.ts';
import { createSqliteStore } from './store.ts';

const DAY = 86_400_000;
const START = Date.UTC(2026, 9, 1);
const WINDOW = { fromMs: START, toMs: START + DAY };

let directory: string;
let files = 0;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'cold-view-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

/**
 * A store of 300 readings of one day, compressed, and a count of them through the cold view of
 * a reader's own connection (as the API's reader threads have), which the writer's changes pass by.
 */
async function compressedStore() {
  const path = join(directory, `${++files}.db`);
  const store = createSqliteStore(openDatabase(path));
  const rows = Array.from({ length: 300 }, (_, i) => ({
    id: Bun.randomUUIDv7('hex', START + i * 60_000),
    deviceId: `device-${i % 3}`,
    metric: 'kwh',
    value: i,
    unit: 'kWh',
    ts: START + i * 60_000,
    storedAt: START + i * 60_000 + 5,
  }));
  await store.insert(rows);
  await store.compressReadingsBefore(START + 2 * DAY, 1_000);
  const reader = openReader(path).$client;
  const cold = coldViewOf(reader);
  const count = () =>
    cold.read(
      [WINDOW],
      (names) =>
        (
          reader
            .query(`SELECT count(*) AS n FROM ${names.readings} WHERE ts >= ? AND ts < ?`)
            .get(WINDOW.fromMs, WINDOW.toMs) as { n: number }
        ).n,
    );
  const failing = () =>
    cold.read([WINDOW], () => {
      throw new Error('the statement failed');
    });
  const close = async () => {
    reader.close();
    await store.close();
  };
  return { store, rows, count, failing, close };
}

it('gives SQL the compressed readings of its windows as they are now, after the writer rewrites a chunk', async () => {
  const { store, rows, count, close } = await compressedStore();
  expect(count()).toBe(300);
  await store.remove(rows[7]?.id as string);
  expect(count()).toBe(299);
  await close();
});

it('loads again what a failed statement took with it when its transaction rolled back, the temporary tables too', async () => {
  // The first loading of a connection made its temporary tables: rolled back, they are gone.
  const first = await compressedStore();
  expect(first.failing).toThrow('the statement failed');
  expect(first.count()).toBe(300);
  // Loaded, then rewritten: the failed statement's loading of the new version is rolled back,
  // and the old version's copy with it restored — not what is there now.
  const later = await compressedStore();
  expect(later.count()).toBe(300);
  await later.store.remove(later.rows[7]?.id as string);
  expect(later.failing).toThrow('the statement failed');
  expect(later.count()).toBe(299);
  await first.close();
  await later.close();
});
