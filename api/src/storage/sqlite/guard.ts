import { statSync } from 'node:fs';
import type { Database } from 'bun:sqlite';
import { timedCheck } from '../check.ts';
import { StorageUnavailableError } from '../port.ts';
import type { Db } from './client.ts';

/** SQLite result codes that mean "not now" (disk full, read-only, I/O trouble, locked), not a bug. */
const UNAVAILABLE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|NOTADB|CORRUPT)/;
/** After these the connection is closed and opened again: a remount or a fixed file needs a new one. */
const REOPEN = /^SQLITE_(READONLY|IOERR|CANTOPEN)/;
/** How soon after a failure a write may try a fresh connection. */
const REOPEN_AFTER_MS = 1_000;
/** A write failure is forgotten after this long without another, once some write succeeds. */
const FAILURE_REMEMBERED_MS = 10 * 60_000;

/** What the work on the connection is: a write (its rows), the probe's write, or a read. */
export type WorkKind = 'write' | 'probe' | false;

export interface GuardOptions<C> {
  /** The connection first opened, and how to prepare one opened again. */
  connection: C;
  connect: (db: Db) => C;
  /** Opens the database again after a fault (the same way it was opened first). */
  reopen?: () => Db;
  /** The database file, watched for deletion or replacement (writers only). */
  path?: string;
  /** A writer probes writes on its own schedule and watches the file; a reader only reads. */
  writer: boolean;
  probeIntervalMs: number;
  /** Told once when the database file is found deleted or replaced. */
  onFileGone?: (message: string) => void;
}

/**
 * The faults of one SQLite connection, told and not hidden: work on it that meets a full disk,
 * a read-only or failing file throws StorageUnavailableError (the API answers 503, never 500),
 * and a failed write is remembered — `check()` says down — until a write as large succeeds; after
 * one the next work opens a fresh connection, so the store recovers by itself once the fault is
 * fixed. A database file deleted or replaced under a writer stops writes for good (they would go
 * to a file nobody can open again) until a restart, loudly.
 */
export function guardConnection<C extends { sqlite: Database }>(options: GuardOptions<C>) {
  const { path, reopen, writer } = options;
  let connection = options.connection;
  /** The last failed write, and the most rows one of them held: only a write as large clears it. */
  let failure: { at: number; source: 'write' | 'probe'; message: string; rows: number } | undefined;
  let reopenAfter: number | undefined;
  let fileGone: string | undefined;
  const identity = path && writer ? fileIdentity(path) : undefined;

  const reopenIfDue = () => {
    if (reopenAfter === undefined || Date.now() < reopenAfter || !reopen) return;
    reopenAfter = undefined;
    try {
      connection.sqlite.close();
    } catch {
      // Already unusable.
    }
    try {
      connection = options.connect(reopen());
    } catch (error) {
      reopenAfter = Date.now() + REOPEN_AFTER_MS;
      throw unavailable(error);
    }
  };

  /** Runs `work` on the connection; storage faults become StorageUnavailableError, failed writes are remembered. */
  const run = <T>(work: (c: C) => T, kind: WorkKind, rows = 1): T => {
    if (kind && fileGone) throw new StorageUnavailableError(fileGone);
    reopenIfDue();
    try {
      const result = work(connection);
      if (failure && clears(failure, kind, rows)) failure = undefined;
      return result;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!UNAVAILABLE.test(code)) throw error;
      if (kind)
        failure = {
          at: Date.now(),
          source: kind,
          message: `SQLite: ${(error as Error).message} (${code})`,
          rows: Math.max(rows, failure?.rows ?? 0),
        };
      if (REOPEN.test(code)) reopenAfter ??= Date.now() + REOPEN_AFTER_MS;
      throw unavailable(error);
    }
  };

  // A real write on its own schedule (so that /health only reads), and the file's identity.
  const probe = writer
    ? setInterval(() => {
        if (path && identity && !fileGone) {
          const now = fileIdentity(path);
          if (!now || now.ino !== identity.ino || now.dev !== identity.dev) {
            fileGone = `the database file ${path} was ${now ? 'replaced' : 'deleted'} while the API ran: writes are refused until the API is restarted (they would be lost)`;
            options.onFileGone?.(fileGone);
          }
        }
        try {
          run((c) => c.sqlite.run('PRAGMA user_version = 7240'), 'probe');
        } catch {
          // Remembered by run(); check() reports it.
        }
      }, options.probeIntervalMs)
    : undefined;
  probe?.unref?.();

  return {
    run,
    /** A read whose statements run in a promise (/stats), its faults told as run() tells them. */
    read<T>(work: (c: C) => Promise<T>): Promise<T> {
      return run(work, false).catch((error) => {
        throw UNAVAILABLE.test((error as { code?: string }).code ?? '') ? unavailable(error) : error;
      });
    },
    async check() {
      const started = performance.now();
      const down = (error: string) => ({
        status: 'down' as const,
        latencyMs: Number((performance.now() - started).toFixed(3)),
        error,
      });
      if (fileGone) return down(fileGone);
      if (failure)
        return down(
          `writes are failing: ${failure.message}${failure.rows > 1 ? ` (a write of ${failure.rows} rows; down until one as large succeeds)` : ''}`,
        );
      return timedCheck(() => connection.sqlite.query('SELECT 1').get());
    },
    close() {
      clearInterval(probe);
      connection.sqlite.close();
    },
  };
}

/**
 * Whether a success clears the remembered failure. Not any write: on a nearly full disk a
 * one-row write fits while every 500-row batch fails, and /health said ok while the lag grew.
 * A write clears it when it held at least as many rows as the largest that failed (the retried
 * batch, typically), or when no write has failed for FAILURE_REMEMBERED_MS; the probe's success
 * clears only the probe's own failures (a full disk can still take its one-page write).
 */
function clears(
  failure: { at: number; source: 'write' | 'probe'; rows: number },
  kind: WorkKind,
  rows: number,
  nowMs = Date.now(),
): boolean {
  if (kind === 'probe') return failure.source === 'probe';
  if (kind !== 'write') return false;
  return rows >= failure.rows || nowMs - failure.at > FAILURE_REMEMBERED_MS;
}

function unavailable(error: unknown): StorageUnavailableError {
  return new StorageUnavailableError(`SQLite: ${(error as Error).message}`, { cause: error });
}

function fileIdentity(path: string): { ino: number; dev: number } | undefined {
  try {
    const stat = statSync(path);
    return { ino: stat.ino, dev: stat.dev };
  } catch {
    return undefined;
  }
}
