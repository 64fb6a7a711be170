/// <reference lib="webworker" />
// Runs WAL checkpoints on its own thread and connection, so the API's commits never pay for them.
import { Database } from 'bun:sqlite';

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number }>) => {
  const { path, intervalMs } = event.data;
  const db = new Database(path);
  db.run('PRAGMA busy_timeout = 5000');
  setInterval(() => {
    try {
      // PASSIVE: copies what no reader still needs, never waits on or blocks the writer.
      db.run('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or briefly locked: the next round catches up.
    }
  }, intervalMs);
};
