/**
 * Group commit: batches that arrive while the store commits share its next transaction, each
 * answered as if it had been alone — through the SQLite writer thread itself, and the grouping
 * rule on its own (which requests go together, the bounds).
 */
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupCommit } from './group-commit.ts';
import { type BatchOutcome, type ReadingsStore, StorageUnavailableError, type StoredRow } from './port.ts';
import { openThreadedSqliteStore } from './sqlite/threaded-store.ts';

const BASE = Date.UTC(2026, 11, 1);
const row = (id: string, value = 1): StoredRow => ({
  id,
  deviceId: `dev-${id.length % 3}`,
  metric: 'kwh',
  value,
  unit: 'kWh',
  ts: BASE + id.length * 1_000,
  storedAt: BASE + 60_000,
});

describe('group commit', () => {
  /** A commit that records its groups and finishes when the test says. */
  const recording = () => {
    const commits: Array<{ groups: ReadonlyArray<readonly StoredRow[]>; finish(): void }> = [];
    const commit = (groups: ReadonlyArray<readonly StoredRow[]>) =>
      new Promise<BatchOutcome[]>((resolve) =>
        commits.push({
          groups,
          finish: () => resolve(groups.map((rows) => ({ inserted: rows.length, duplicates: 0, conflicts: [] }))),
        }),
      );
    return { commits, commit };
  };
  const rows = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => row(`${prefix}-${i}`));

  it('sends an insert into an idle store at once, and merges those that arrive meanwhile up to the bound', async () => {
    const { commits, commit } = recording();
    const insert = groupCommit(commit, { maxRows: 10, maxWaiting: 100 });
    const answers = [insert(rows(4, 'a')), insert(rows(3, 'b')), insert(rows(5, 'c')), insert(rows(3, 'd'))];
    expect(commits.map((c) => c.groups.map((g) => g.length))).toEqual([[4]]);
    commits[0]?.finish();
    await answers[0];
    // b and c fit together (8 rows); d would make 11: it waits for the next.
    expect(commits.map((c) => c.groups.map((g) => g.length))).toEqual([[4], [3, 5]]);
    commits[1]?.finish();
    await answers[2];
    expect(commits.map((c) => c.groups.map((g) => g.length))).toEqual([[4], [3, 5], [3]]);
    commits[2]?.finish();
    expect((await Promise.all(answers)).map((answer) => answer.inserted)).toEqual([4, 3, 5, 3]);
  });

  it('lets a request larger than the bound go alone, refuses past maxWaiting, and fails only the group that failed', async () => {
    const failing = [true];
    const insert = groupCommit(
      async (groups) => {
        await Bun.sleep(1);
        if (failing.shift()) throw new Error('disk full');
        return groups.map((g) => ({ inserted: g.length, duplicates: 0, conflicts: [] }));
      },
      { maxRows: 10, maxWaiting: 2 },
    );
    const first = insert(rows(20, 'big'));
    const second = insert(rows(2, 'x'));
    const third = insert(rows(2, 'y'));
    await expect(insert(rows(1, 'z'))).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(first).rejects.toThrow('disk full');
    expect((await second).inserted).toBe(2);
    expect((await third).inserted).toBe(2);
  });

  describe('on the SQLite writer thread', () => {
    let dir: string;
    let store: ReadingsStore;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'group-commit-'));
      store = await openThreadedSqliteStore(join(dir, 'group.db'));
    });
    afterAll(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('answers each of many concurrent batches as if alone: its rows stored, its duplicates and conflicts, earlier batches first', async () => {
      await store.insert([row('stored-before', 5)]);
      const batches: StoredRow[][] = Array.from({ length: 40 }, (_, b) => [
        ...Array.from({ length: 50 }, (_, i) => row(`b${b}-r${i}`, b)),
        // The same reading as the batch before (a duplicate), and one stored before with another value (a conflict).
        ...(b > 0 ? [row(`b${b - 1}-r0`, b - 1)] : []),
        row('stored-before', 6 + b),
        // Within the batch: the same id twice with other content.
        row(`b${b}-r1`, -1),
      ]);
      const outcomes = await Promise.all(batches.map((batch) => store.insert(batch)));
      outcomes.forEach((outcome, b) => {
        expect(outcome.inserted).toBe(50);
        expect(outcome.duplicates).toBe(b > 0 ? 1 : 0);
        const batch = batches[b] as StoredRow[];
        expect(outcome.conflicts.map((c) => [c.index, c.offered.id, c.stored.value])).toEqual([
          [batch.length - 2, 'stored-before', 5],
          [batch.length - 1, `b${b}-r1`, b],
        ]);
      });
      expect(await store.count({})).toBe(1 + 40 * 50);
    });
  });
});
