import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../storage/open.ts';
import type { ReadingsStore, StoredRow } from '../../storage/port.ts';
import { sharedStatsAnswers } from './shared-answers.ts';

let dir: string;
let store: ReadingsStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shared-stats-'));
  store = await openStore(join(dir, 'stats.db'));
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const rows = (from: number, count: number): StoredRow[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `shared-${from + i}`,
    deviceId: `device-${(from + i) % 7}`,
    metric: 'kwh',
    value: from + i,
    unit: 'kWh',
    ts: Date.UTC(2026, 11, 1) + (from + i) * 1_000,
    storedAt: Date.now(),
  }));
const page = { limit: 10 };
const countOf = (bytes: Uint8Array) => (JSON.parse(new TextDecoder().decode(bytes)) as { count: number }).count;

/** Shared answers over the real store, counting the reads it is asked for. */
function counted() {
  let reads = 0;
  const statsJson: ReadingsStore['statsJson'] = (...args) => {
    reads += 1;
    return store.statsJson(...args);
  };
  const answers = sharedStatsAnswers({ statsJson, onChange: (listener) => store.onChange(listener) });
  return { answers, reads: () => reads };
}

describe('identical /stats asked at once', () => {
  it('share one read, three besides the first at most, and every ask gets the whole answer', async () => {
    await store.insert(rows(0, 100));
    const { answers, reads } = counted();
    const four = await Promise.all(Array.from({ length: 4 }, () => answers({}, 50, page)));
    expect(reads()).toBe(1);
    const six = await Promise.all(Array.from({ length: 6 }, () => answers({}, 50, page)));
    expect(reads()).toBe(3);
    expect([...four, ...six].map(countOf)).toEqual(Array(10).fill(100));
  });

  it('do not share once a change was committed between them: the later one sees it', async () => {
    const { answers, reads } = counted();
    // Asked before the commit (its read may still run after it, on the reader's thread).
    const before = answers({ metric: 'kwh' }, 50, page);
    await store.insert(rows(100, 10));
    const after = answers({ metric: 'kwh' }, 50, page);
    expect(reads()).toBe(2);
    expect(countOf(await after)).toBe(110);
    await before;
  });

  it('read for themselves when they differ, or once the shared read is done', async () => {
    const { answers, reads } = counted();
    await Promise.all([answers({}, 50, page), answers({}, 60, page), answers({ deviceId: 'device-1' }, 50, page)]);
    expect(reads()).toBe(3);
    await answers({}, 50, page);
    expect(reads()).toBe(4);
  });
});
