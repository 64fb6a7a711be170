import { afterAll, expect, it } from 'bun:test';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READER_NICE_STEPS } from './thread-priority.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** The nice value of each of this process's threads by id (Linux: field 19 of /proc/self/task/N/stat). */
function threadNices(): Map<string, number> {
  return new Map(
    readdirSync('/proc/self/task').flatMap((tid) => {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return [[tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])] as const];
      } catch {
        return []; // The thread ended meanwhile.
      }
    }),
  );
}

it.skipIf(process.platform !== 'linux')(
  'runs the SQLite reader threads (and the helpers they start) below the event loop',
  async () => {
    const base = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[16]);
    // Threads of earlier tests' stores may still be ending: only threads started by this store count.
    const before = new Set(threadNices().keys());
    const dir = await mkdtemp(join(tmpdir(), 'reader-priority-'));
    dirs.push(dir);
    const store = await openThreadedSqliteStore(join(dir, 'priority.db'), { readers: 3 });
    try {
      // Reads still answer from those threads.
      expect(await store.count({})).toBe(0);
      // Three readers, each a thread at least (a thread started by one inherits its priority).
      const started = [...threadNices()].filter(([tid]) => !before.has(tid));
      expect(
        started.filter(([, nice]) => nice === Math.min(19, base + READER_NICE_STEPS)).length,
      ).toBeGreaterThanOrEqual(3);
      // The writer, at least, is not lowered.
      expect(started.filter(([, nice]) => nice === base).length).toBeGreaterThanOrEqual(1);
      // The event loop, this thread, is where it was.
      const main = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
      expect(Number(main.slice(main.lastIndexOf(')') + 2).split(' ')[16])).toBe(base);
    } finally {
      await store.close();
    }
  },
);
