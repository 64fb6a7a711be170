import type { SqliteStore } from './store.ts';

/** The port's methods a SQLite thread serves. */
export type ThreadMethod = Exclude<keyof SqliteStore, 'backend' | 'location' | 'onChange'>;

/** From the API's event loop to a SQLite thread: open first, then calls, answered in order. */
export type ThreadRequest =
  | { type: 'open'; databaseUrl: string; role: 'writer' | 'reader'; probeIntervalMs?: number; readerNice?: number }
  | { type: 'call'; id: number; method: ThreadMethod; args: unknown[] };

/** From a SQLite thread back: whether it opened, each call's result, and what it noticed. */
export type ThreadReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'changed' }
  | { type: 'file-gone'; message: string }
  | {
      type: 'result';
      id: number;
      value?: unknown;
      error?: { kind?: 'unavailable' | 'damaged'; message: string };
    };
