/// <reference lib="webworker" />
// One SQLite connection on its own thread (the writer, or a reader), serving the calls of the
// API's event loop: see threaded-store.ts. A call that hangs here (a frozen disk, a long query)
// holds this thread only.
import { StorageDamagedError, StorageUnavailableError } from '../port.ts';
import { type SqliteStore, openSqliteStore } from './store.ts';
import { lowerThisThreadPriority } from './thread-priority.ts';
import type { ThreadReply, ThreadRequest } from './thread-protocol.ts';

declare const self: Worker;

let store: SqliteStore | undefined;
const reply = (message: ThreadReply, transfer: Transferable[] = []) => self.postMessage(message, transfer);

/** Bytes a result carries (/stats's JSON, an export's chunk) are handed over, not copied. */
function transferable(value: unknown): Transferable[] {
  const bytes = value instanceof Uint8Array ? value : (value as { bytes?: unknown } | undefined)?.bytes;
  return bytes instanceof Uint8Array && bytes.byteLength === bytes.buffer.byteLength
    ? [bytes.buffer as ArrayBuffer]
    : [];
}

self.onmessage = async (event: MessageEvent<ThreadRequest>) => {
  const message = event.data;
  if (message.type === 'open') {
    // A reader takes the CPU the writer and the event loop leave (see thread-priority.ts).
    if (message.role === 'reader' && message.readerNice) lowerThisThreadPriority(message.readerNice);
    try {
      store = openSqliteStore(message.databaseUrl, {
        role: message.role,
        probeIntervalMs: message.probeIntervalMs,
        // The API's thread runs the checkpointer, beside this one.
        checkpoint: false,
        onFileGone: (gone) => reply({ type: 'file-gone', message: gone }),
      });
      // Posted before the call's result, so listeners run before the caller goes on.
      store.onChange(() => reply({ type: 'changed' }));
      reply({ type: 'ready' });
    } catch (error) {
      reply({ type: 'failed', message: (error as Error).message });
    }
    return;
  }
  try {
    if (!store) throw new Error('the SQLite thread was called before it opened the database');
    const method = store[message.method] as (...args: unknown[]) => Promise<unknown>;
    const value = await method.apply(store, message.args);
    reply({ type: 'result', id: message.id, value }, transferable(value));
  } catch (error) {
    reply({
      type: 'result',
      id: message.id,
      error: {
        kind:
          error instanceof StorageUnavailableError
            ? 'unavailable'
            : error instanceof StorageDamagedError
              ? 'damaged'
              : undefined,
        message: (error as Error).message,
      },
    });
  }
};
