import { groupCommit } from '../group-commit.ts';
import { fileBytes, sqliteDiskBytes } from './disk-bytes.ts';
import type { Bucket } from '../minutes.ts';
import {
  type BatchOutcome,
  type DevicePage,
  type ReadingFilter,
  type ReadingsStore,
  type Stats,
  type StorageCheck,
  StorageDamagedError,
  StorageUnavailableError,
} from '../port.ts';
import { WAL_HOLD_BYTES, startCheckpointer } from './checkpointer.ts';
import { databaseIdentity, databasePath } from './client.ts';
import { packGroups } from './packed-rows.ts';
import { READER_NICE_STEPS } from './thread-priority.ts';
import type { ThreadMethod, ThreadReply, ThreadRequest } from './thread-protocol.ts';

/** Calls waiting on one thread at most; past it the API answers 503 at once instead of queueing. */
const MAX_WAITING_CALLS = 256;
/**
 * Rows one group commit takes at most: about what JetStream's arrivals give one transaction in the
 * peer benchmark, and well within a call's time budget.
 */
const GROUP_COMMIT_ROWS = 20_000;
const COMMA = ','.charCodeAt(0);
const DECODER = new TextDecoder();
/** How long /health waits for the writer thread to answer its check. */
const CHECK_BUDGET_MS = 1_000;
/**
 * The budget of the short reads that run on the writer's thread (the dashboard's latest
 * readings, the live feed, /metrics's oldest reading): behind a write on a hung disk they answer
 * 503 after this, not after the statement timeout (30 s) that a long write may need.
 */
const SHORT_READ_BUDGET_MS = 2_000;

interface Waiting {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  /** Set when the budget ran out: the caller was answered, the thread still works on it. */
  overdue: boolean;
}

/**
 * One SQLite thread and the calls waiting on it. A call gets a time budget: past it the caller
 * gets StorageUnavailableError (503) and the thread counts as stuck until it answers that call,
 * refusing new ones at once: a hung disk costs the API one thread, never its event loop or an
 * unbounded queue.
 */
class SqliteThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private overdueCalls = 0;
  /** Called when no call is left but those past their budget (see `settled`). */
  private readonly onSettled: Array<() => void> = [];
  /** Since when a call has run past its budget, while it still runs. */
  stuckSince: number | undefined;
  readonly opened: Promise<void>;

  constructor(
    readonly name: string,
    open: Extract<ThreadRequest, { type: 'open' }>,
    events: { changed?: () => void; fileGone?: (message: string) => void } = {},
  ) {
    this.worker = new Worker(new URL('./store-thread.ts', import.meta.url).href);
    // Bun's Worker can be unreferenced (the DOM typings in scope here do not say so): an open
    // store alone does not keep a process alive.
    (this.worker as unknown as { unref(): void }).unref();
    this.opened = new Promise((resolve, reject) => {
      this.worker.onmessage = (event: MessageEvent<ThreadReply>) => {
        const message = event.data;
        if (message.type === 'ready') resolve();
        else if (message.type === 'failed') reject(new Error(message.message));
        else if (message.type === 'changed') events.changed?.();
        else if (message.type === 'file-gone') events.fileGone?.(message.message);
        else this.settle(message);
      };
      this.worker.onerror = (event) => {
        const error = new Error(`SQLite's ${this.name} thread failed: ${event.message}`);
        reject(error);
        for (const call of this.waiting.values()) call.reject(error);
      };
    });
    this.worker.postMessage(open satisfies ThreadRequest);
  }

  get load(): number {
    return this.waiting.size;
  }

  /** A stuck thread's reason, or undefined while it keeps to its budgets. */
  stuck(): string | undefined {
    if (this.stuckSince === undefined) return undefined;
    const seconds = ((Date.now() - this.stuckSince) / 1_000).toFixed(1);
    return `SQLite's ${this.name} thread has been on one call ${seconds} s past its time budget (a hung or overloaded disk?)`;
  }

  /**
   * `method` on the thread; past `budgetMs` a 503, and the thread stuck unless `stalls` is false.
   * `transfer`: buffers of the arguments handed over rather than copied.
   */
  call<T>(
    method: ThreadMethod,
    args: unknown[],
    budgetMs: number,
    stalls = true,
    transfer: Transferable[] = [],
  ): Promise<T> {
    const stuck = this.stuck();
    if (stuck) return Promise.reject(new StorageUnavailableError(stuck));
    if (this.waiting.size >= MAX_WAITING_CALLS) {
      return Promise.reject(
        new StorageUnavailableError(`SQLite's ${this.name} thread has ${MAX_WAITING_CALLS} calls waiting already`),
      );
    }
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const call = this.waiting.get(id);
        if (!call) return;
        if (stalls) {
          call.overdue = true;
          this.overdueCalls += 1;
          this.stuckSince ??= Date.now();
        } else {
          this.waiting.delete(id);
        }
        this.tellIfSettled();
        reject(
          new StorageUnavailableError(
            `SQLite did not finish ${method} within ${budgetMs} ms (a hung or overloaded disk?)`,
          ),
        );
      }, budgetMs);
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, overdue: false });
      this.worker.postMessage({ type: 'call', id, method, args } satisfies ThreadRequest, transfer);
    });
  }

  /** Resolves once every call but those past their budget is answered (at once if none waits). */
  settled(): Promise<void> {
    if (this.waiting.size === this.overdueCalls) return Promise.resolve();
    return new Promise((resolve) => this.onSettled.push(resolve));
  }

  private settle(message: Extract<ThreadReply, { type: 'result' }>): void {
    const call = this.waiting.get(message.id);
    if (!call) return;
    this.waiting.delete(message.id);
    clearTimeout(call.timer);
    if (call.overdue) {
      // Answered already (503); what it did stays done, and a retry finds it (inserts are idempotent).
      this.overdueCalls -= 1;
      if (this.overdueCalls === 0) this.stuckSince = undefined;
    } else if (!message.error) call.resolve(message.value);
    else if (message.error.kind === 'unavailable') call.reject(new StorageUnavailableError(message.error.message));
    else if (message.error.kind === 'damaged') call.reject(new StorageDamagedError(message.error.message));
    else call.reject(new Error(message.error.message));
    this.tellIfSettled();
  }

  private tellIfSettled(): void {
    if (this.waiting.size !== this.overdueCalls) return;
    for (const resolve of this.onSettled.splice(0)) resolve();
  }

  async close(): Promise<void> {
    await this.call('close', [], CHECK_BUDGET_MS, false).catch(() => {});
    this.worker.terminate();
  }
}

export interface ThreadedSqliteOptions {
  /** How long a call may take before the API answers 503 (DATABASE_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
  /** Reader threads, for listings, exports and statistics. Default 2. */
  readers?: number;
  /** How many nice levels below the writer the readers run (Linux; 0: alike). Default 10. */
  readerNice?: number;
  probeIntervalMs?: number;
  onFileGone?: (message: string) => void;
  /** WAL content past which readers make way for a checkpoint that empties it (see checkpointer.ts). */
  walResetBytes?: number;
  /** WAL file size past which writes wait for that checkpoint first. */
  walHoldBytes?: number;
  checkpointIntervalMs?: number;
}

/**
 * SQLite with no query on the API's event loop: one writer thread owns the connection that
 * writes (and follows the change feed, which trails its commits), reader threads with their own
 * connections serve listings, exports and statistics, and a checkpointer runs beside them. A
 * frozen disk or a long statistics query holds a thread, not the API: /health answers, and a
 * call past its budget answers 503.
 */
export async function openThreadedSqliteStore(
  databaseUrl: string,
  options: ThreadedSqliteOptions = {},
): Promise<ReadingsStore> {
  const { statementTimeoutMs = 30_000, readers: readerCount = 2, readerNice = READER_NICE_STEPS } = options;
  const path = databasePath(databaseUrl);
  const listeners: Array<() => void> = [];
  const writer = new SqliteThread(
    'writer',
    { type: 'open', databaseUrl, role: 'writer', probeIntervalMs: options.probeIntervalMs },
    { changed: () => listeners.forEach((listener) => listener()), fileGone: options.onFileGone },
  );
  await writer.opened;
  // After the writer: it has created and migrated the database the readers open.
  const readers = Array.from(
    { length: readerCount },
    (_, index) => new SqliteThread(`reader ${index + 1}`, { type: 'open', databaseUrl, role: 'reader', readerNice }),
  );
  await Promise.all(readers.map((reader) => reader.opened));
  /** While the readers make way for a WAL reset: what new reads wait for. */
  let readersPaused: Promise<void> | undefined;
  const pauseReaders = async () => {
    let resume!: () => void;
    readersPaused = new Promise((resolve) => {
      resume = () => {
        readersPaused = undefined;
        resolve();
      };
    });
    await Promise.all(readers.map((reader) => reader.settled()));
    // A reader on a call past its budget (a hung disk) still holds its snapshot: no reset then.
    if (readers.some((reader) => reader.stuckSince !== undefined)) {
      resume();
      return undefined;
    }
    return resume;
  };
  const checkpointer = startCheckpointer(path, {
    resetBytes: options.walResetBytes,
    intervalMs: options.checkpointIntervalMs,
    pauseReaders,
    truncate: () => writer.call<boolean>('emptyWal', [], statementTimeoutMs),
  });

  const walHoldBytes = options.walHoldBytes ?? WAL_HOLD_BYTES;
  /** Before a write: a WAL past the hold mark is reset first (see checkpointer.ts). */
  const walRoom = (): Promise<void> | undefined =>
    fileBytes(`${path}-wal`) > walHoldBytes ? checkpointer.resetNow() : undefined;
  const write = <T>(method: ThreadMethod, ...args: unknown[]) => writer.call<T>(method, args, statementTimeoutMs);
  // Batches that arrive while the writer commits go into its next transaction together.
  const insert = groupCommit(
    async (groups) => {
      await walRoom();
      const packed = packGroups(groups);
      return writer.call<BatchOutcome[]>('insertPacked', [packed], statementTimeoutMs, true, [packed.numbers.buffer]);
    },
    {
      maxRows: GROUP_COMMIT_ROWS,
      maxWaiting: MAX_WAITING_CALLS,
    },
  );
  /** A short read on the writer's thread: its own small budget, and it never marks the thread stuck. */
  const shortRead = <T>(method: ThreadMethod, ...args: unknown[]) =>
    writer.call<T>(method, args, Math.min(statementTimeoutMs, SHORT_READ_BUDGET_MS), false);
  /** On the least busy reader that keeps to its budget. */
  const read = async <T>(method: ThreadMethod, ...args: unknown[]): Promise<T> => {
    while (readersPaused) await readersPaused;
    const free = readers.filter((reader) => reader.stuckSince === undefined);
    if (free.length === 0)
      return Promise.reject(new StorageUnavailableError(readers[0]?.stuck() ?? 'no SQLite reader'));
    const reader = free.reduce((best, candidate) => (candidate.load < best.load ? candidate : best));
    return reader.call<T>(method, args, statementTimeoutMs);
  };

  /**
   * /stats's two halves on two readers at once (each the least busy when asked), as JSON objects
   * made there: the answer comes in the time of the longer half, and joining them is all the
   * event loop does.
   */
  const statsJson = async (
    filter: ReadingFilter,
    threshold: number,
    devices: DevicePage,
    bucket?: Bucket,
  ): Promise<Uint8Array> => {
    const [summary, page] = await Promise.all([
      read<Uint8Array>('statsSummaryJson', filter, threshold, bucket),
      read<Uint8Array>('statsDevicesJson', filter, threshold, devices),
    ]);
    // {…summary…} and {…page…} into {…summary…,…page…}: the one's closing brace becomes a comma.
    const joined = new Uint8Array(summary.length + page.length - 1);
    joined.set(summary);
    joined[summary.length - 1] = COMMA;
    joined.set(page.subarray(1), summary.length);
    return joined;
  };

  return {
    backend: 'sqlite',
    location: path,
    identity: async () => databaseIdentity(path),
    insert,
    patch: (id, fields) => write('patch', id, fields),
    remove: (id) => write('remove', id),
    get: (id) => read('get', id),
    page: (filter, limit, after) => read('page', filter, limit, after),
    chunk: (filter, limit, after) => read('chunk', filter, limit, after),
    exportChunk: (filter, limit, after, format) => read('exportChunk', filter, limit, after, format),
    stats: async (filter, threshold, devices, bucket) =>
      JSON.parse(DECODER.decode(await statsJson(filter, threshold, devices, bucket))) as Stats,
    statsJson,
    count: (filter) => read('count', filter),
    // Short reads that must not wait behind long ones: the dashboard's poll, and the feed, which
    // trails the writer's commits.
    latest: (limit) => shortRead('latest', limit),
    changesAfter: (seq, limit) => shortRead('changesAfter', seq, limit),
    recentChanges: (limit) => shortRead('recentChanges', limit),
    lastSeq: () => shortRead('lastSeq'),
    insertAlerts: (rows) => write('insertAlerts', rows),
    acknowledgeAlert: (id, ack) => write('acknowledgeAlert', id, ack),
    removeReadingsBefore: (beforeMs, limit) => write('removeReadingsBefore', beforeMs, limit),
    compactRollups: (beforeMs, limit, thresholds) => write('compactRollups', beforeMs, limit, thresholds),
    rebuildRollups: (thresholds) => write('rebuildRollups', thresholds),
    removeRollupsBefore: (beforeMs, limit) => write('removeRollupsBefore', beforeMs, limit),
    reclaimSpace: () => write('reclaimSpace'),
    compressReadingsBefore: (beforeMs, limit) => write('compressReadingsBefore', beforeMs, limit),
    compressionTiers: (beforeMs) => read('compressionTiers', beforeMs),
    oldestReadingTs: () => shortRead('oldestReadingTs'),
    removeAlertsBefore: (beforeMs, limit) => write('removeAlertsBefore', beforeMs, limit),
    alerts: (filter, limit, after) => read('alerts', filter, limit, after),
    onChange(listener) {
      listeners.push(listener);
    },
    wal: () => ({ bytes: fileBytes(`${path}-wal`), resets: checkpointer.resets() }),
    diskBytes: async () => sqliteDiskBytes(path),
    async check(): Promise<StorageCheck> {
      const started = performance.now();
      const down = (error: string): StorageCheck => ({
        status: 'down',
        latencyMs: Number((performance.now() - started).toFixed(3)),
        error,
      });
      const stuck = writer.stuck();
      if (stuck) return down(stuck);
      try {
        // A check that waits behind a queue of writes is slow, not stuck: it does not stop writes.
        return await writer.call<StorageCheck>('check', [], CHECK_BUDGET_MS, false);
      } catch (error) {
        return down((error as Error).message);
      }
    },
    async close() {
      await checkpointer.stop();
      await Promise.all([writer, ...readers].map((thread) => thread.close()));
    },
  };
}
