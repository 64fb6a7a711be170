/// <reference lib="webworker" />
// Runs WAL checkpoints on its own thread and connection, so the API's commits never pay for them.
import { Database } from 'bun:sqlite';
import type { CheckpointerReply, CheckpointerRequest } from './checkpointer.ts';

declare const self: Worker;

const post = (reply: CheckpointerReply) => self.postMessage(reply);
let db: Database | undefined;

/**
 * PASSIVE: copies what no reader still needs, never waits on or blocks the writer. Returns the
 * bytes of WAL frames written since the WAL last began again from its start.
 */
function checkpoint(frameBytes: number): number {
  const result = db?.query('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number } | undefined;
  return Math.max(0, result?.log ?? 0) * frameBytes;
}

self.onmessage = (event: MessageEvent<CheckpointerRequest>) => {
  const message = event.data;
  if (message.type === 'start') {
    // Never creates the file: the writer made it before starting this thread, and a file gone by
    // now was deleted under the API (which the writer reports) — a new empty one made here would
    // be taken for a replacement.
    try {
      db = new Database(message.path, { create: false, readwrite: true });
    } catch {
      self.onmessage = (next: MessageEvent<CheckpointerRequest>) => {
        if (next.data.type === 'stop') post({ type: 'stopped' });
      };
      return;
    }
    db.run('PRAGMA busy_timeout = 5000');
    // A WAL frame: a page and its 24-byte header.
    const frameBytes = (db.query('PRAGMA page_size').get() as { page_size: number }).page_size + 24;
    /** While the writer resets the WAL: a checkpoint running here would make it fail at once. */
    let resetting = false;
    let rounds: ReturnType<typeof setInterval> | undefined;
    self.onmessage = (next: MessageEvent<CheckpointerRequest>) => {
      if (next.data.type === 'stop') {
        clearInterval(rounds);
        db?.close();
        db = undefined;
        post({ type: 'stopped' });
        return;
      }
      resetting = next.data.type === 'catch-up';
      // With the readers out of the way: everything copied before the writer is asked to reset.
      if (resetting) {
        tryCheckpoint(frameBytes);
        post({ type: 'caught-up' });
      }
    };
    rounds = setInterval(() => {
      if (resetting || !db) return;
      const walBytes = tryCheckpoint(frameBytes);
      if (walBytes > message.resetBytes) post({ type: 'over', walBytes });
    }, message.intervalMs);
  }
};

function tryCheckpoint(frameBytes: number): number {
  try {
    return checkpoint(frameBytes);
  } catch {
    // Busy or briefly locked: the next round catches up.
    return 0;
  }
}
