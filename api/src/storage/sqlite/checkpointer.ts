/**
 * Moves WAL checkpoints off the request thread: a worker checkpoints every `intervalMs` with its
 * own connection. The API's connection keeps a high autocheckpoint as a safety net, should the
 * worker ever stop.
 *
 * Checkpoints alone do not bound the WAL. SQLite starts the WAL over from its beginning only once
 * every frame is copied and no reader still reads one, and a checkpoint copies only what every
 * reader's snapshot is past: with readers that overlap without a pause (clients looping on
 * /stats), that never happens and the WAL grows without end (932 MiB for 300,000 late readings
 * in wal-bound.test.ts). So past `resetBytes` the store's readers make way — new reads wait,
 * those running finish — the worker copies the WAL while writes go on, and the writer, between
 * two of its writes, empties it (TRUNCATE: no other writer to wait for, only what it committed
 * since to copy). Then reads go on.
 */
export interface CheckpointerOptions {
  intervalMs?: number;
  /** WAL content past which the readers make way for a reset. */
  resetBytes?: number;
  /**
   * Pauses the store's readers until they hold no snapshot; resolves to the function that lets
   * them go on, or to undefined when they cannot make way (a reader stuck on a hung disk).
   */
  pauseReaders?: () => Promise<(() => void) | undefined>;
  /** Empties the WAL on the writer's connection; whether it could (no reader in the way). */
  truncate: () => Promise<boolean>;
}

export type CheckpointerRequest =
  | { type: 'start'; path: string; intervalMs: number; resetBytes: number }
  | { type: 'catch-up' }
  | { type: 'reset-over' }
  | { type: 'stop' };
export type CheckpointerReply = { type: 'over'; walBytes: number } | { type: 'caught-up' } | { type: 'stopped' };

/**
 * WAL content past which the readers make way for a reset, while writes go on: a quarter of the
 * bound the WAL is held to (64 MiB), as a reset waits for the longest read running.
 */
export const WAL_RESET_BYTES = 16 * 2 ** 20;
/**
 * A WAL file past this, and writes wait for a reset first: what bounds the WAL when writes
 * outrun resets (late readings spread over a month write 16–32 KiB of WAL each: every row lands
 * on pages of its own, and so do its rollups). Below 64 MiB by one such batch of 1,000: at 48 MiB
 * the history bench's late readings took the WAL to 72 MiB.
 */
export const WAL_HOLD_BYTES = 32 * 2 ** 20;

/**
 * After a reset that could not be done (a reader of another process still in the WAL), how long
 * before the next try: each try holds the writer up to EMPTY_WAL_BUSY_MS.
 */
const RETRY_AFTER_FAILURE_MS = 5_000;
/** How long a reset waits for the worker's copy before the writer empties what is left itself. */
const CATCH_UP_BUDGET_MS = 10_000;
/** How long stopping waits for the worker to close its connection before ending the thread anyway. */
const STOP_BUDGET_MS = 5_000;

export interface Checkpointer {
  /**
   * Ends the worker once it has closed its connection (a checkpoint running finishes first): a
   * thread ended in the middle of one kept its locks in this process, and another process
   * opening the file next found it locked.
   */
  stop(): Promise<void>;
  /** WAL resets so far. */
  resets(): number;
  /** Resets the WAL now (or joins the reset under way); resolves when it is over, done or not. */
  resetNow(): Promise<void>;
}

export function startCheckpointer(path: string, options: CheckpointerOptions): Checkpointer {
  const { intervalMs = 500, resetBytes = WAL_RESET_BYTES, pauseReaders = async () => () => {}, truncate } = options;
  const worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url).href);
  /** The reset under way, if one is. */
  let resetting: Promise<void> | undefined;
  let resets = 0;
  let failedAt = Number.NEGATIVE_INFINITY;
  let resume: (() => void) | undefined;
  let caughtUp: (() => void) | undefined;
  let stopped: (() => void) | undefined;

  /** Sends `request` and resolves when `listen`'s callback is called (by the answer) or after `budgetMs`. */
  const ask = (request: CheckpointerRequest, budgetMs: number, listen: (answered: () => void) => void) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, budgetMs);
      listen(() => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage(request);
    });

  const reset = async () => {
    resume = await pauseReaders();
    if (!resume) return;
    try {
      // Bounded: should the worker never answer, the readers must not wait for ever.
      await ask({ type: 'catch-up' }, CATCH_UP_BUDGET_MS, (answered) => {
        caughtUp = answered;
      });
      if (await truncate().catch(() => false)) resets += 1;
      else failedAt = performance.now();
    } finally {
      worker.postMessage({ type: 'reset-over' } satisfies CheckpointerRequest);
      resume();
      resume = undefined;
    }
  };
  const resetNow = (): Promise<void> => {
    // A reader of another process in the way: the writes queued behind each try wait with it.
    if (performance.now() - failedAt < RETRY_AFTER_FAILURE_MS) return Promise.resolve();
    resetting ??= reset().finally(() => {
      resetting = undefined;
    });
    return resetting;
  };

  worker.onmessage = (event: MessageEvent<CheckpointerReply>) => {
    if (event.data.type === 'over') void resetNow();
    else if (event.data.type === 'stopped') stopped?.();
    else {
      caughtUp?.();
      caughtUp = undefined;
    }
  };
  worker.postMessage({ type: 'start', path, intervalMs, resetBytes } satisfies CheckpointerRequest);
  return {
    stop: async () => {
      caughtUp?.();
      resume?.();
      await ask({ type: 'stop' }, STOP_BUDGET_MS, (answered) => {
        stopped = answered;
      });
      worker.terminate();
    },
    resets: () => resets,
    resetNow,
  };
}
