import { statSync } from 'node:fs';
import { sqliteDiskBytes } from './disk-bytes.ts';
import { and, asc, count, desc, eq, gt, gte, lt, lte, or, sql } from 'drizzle-orm';
import { timedCheck } from '../check.ts';
import { exportChunk, jsonBytes } from '../export-text.ts';
import type { Bucket } from '../minutes.ts';
import {
  type BatchOutcome,
  type Conflict,
  type Cursor,
  type DevicePage,
  type FeedRow,
  type ReadingFilter,
  type ReadingPatchFields,
  type ReadingsStore,
  StorageUnavailableError,
  type StoredRow,
  sameReading,
} from '../port.ts';
import { statsDevices, statsFromRollups, statsSummary } from '../rollup-stats.ts';
import { HOUR_MINUTES, MINUTE_MS } from '../rollups.ts';
import { rollupStatements } from './rollups.ts';
import { startCheckpointer } from './checkpointer.ts';
import { type Db, databaseIdentity, databasePath, openDatabase, openReader } from './client.ts';
import { alertStatements } from './alerts.ts';
import { storedId } from '../id-bytes.ts';
import { nameKeys, withIdText } from './compact.ts';
import { type PackedGroups, unpackGroups } from './packed-rows.ts';
import { whereFilter } from './filters.ts';
import { readings } from './schema.ts';
import { rollupReader } from './stats.ts';

/** A reading's columns as the port speaks them, from the `readings` view (schema.ts); the id as kept, for withIdText. */
const READING_COLUMNS = 'stored_id AS id, device_id AS deviceId, metric, value, unit, ts, stored_at AS storedAt';
/** The change feed's: the sequence grows with every insert. */
const FEED_COLUMNS = `seq, ${READING_COLUMNS}`;
/** The view's columns for Drizzle's reads: the id as kept, made text by withIdText. */
const ROW = {
  id: sql<Uint8Array | string>`stored_id`,
  deviceId: readings.deviceId,
  metric: readings.metric,
  value: readings.value,
  unit: readings.unit,
  ts: readings.ts,
  storedAt: readings.storedAt,
};
/** One reading by id: its row found by the id's index, then read through the view by seq. */
const BY_ID = 'seq = (SELECT seq FROM reading_rows WHERE id = ?)';

/** SQLite result codes that mean "not now" (disk full, read-only, I/O trouble, locked), not a bug. */
const UNAVAILABLE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|BUSY|LOCKED|NOTADB|CORRUPT)/;
/** After these the connection is closed and opened again: a remount or a fixed file needs a new one. */
const REOPEN = /^SQLITE_(READONLY|IOERR|CANTOPEN)/;
/** How soon after a failure a write may try a fresh connection. */
const REOPEN_AFTER_MS = 1_000;

/** One connection and the statements prepared on it. */
function connect(db: Db, clock?: () => number) {
  const sqlite = db.$client;
  // The hot path: a raw prepared statement costs about a third of the CPU of the query builder.
  const insertOne = sqlite.prepare(
    'INSERT OR IGNORE INTO reading_rows (id, device, metric, value, unit, ts, lead) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const storedById = sqlite.prepare(`SELECT ${READING_COLUMNS} FROM readings WHERE ${BY_ID}`);
  const names = nameKeys(sqlite);
  const rollups = rollupStatements(sqlite, clock);
  /** One request's rows: each stored (added to `stored`), a duplicate, or a conflict. */
  const insertRows = (rows: readonly StoredRow[], stored: StoredRow[]): BatchOutcome => {
    const before = stored.length;
    const conflicts: Conflict[] = [];
    for (const [index, row] of rows.entries()) {
      const id = storedId(row.id);
      if (
        insertOne.run(
          id,
          names.key(row.deviceId),
          names.key(row.metric),
          row.value,
          names.key(row.unit),
          row.ts,
          row.storedAt - row.ts,
        ).changes === 1
      ) {
        stored.push(row);
        continue;
      }
      // Ignored: the same reading again (a duplicate), or the same id with other content.
      const standing = storedById.get(id) as StoredRow | null;
      if (standing && !sameReading(withIdText(standing), row))
        conflicts.push({ index, offered: row, stored: standing });
    }
    const inserted = stored.length - before;
    return { inserted, duplicates: rows.length - inserted - conflicts.length, conflicts };
  };
  /**
   * Several requests' rows in one transaction (group commit), each answered as if alone: a row
   * an earlier request of the group stored is a duplicate (or a conflict) for a later one.
   */
  const insertGroups = sqlite.transaction((groups: ReadonlyArray<readonly StoredRow[]>) => {
    const stored: StoredRow[] = [];
    const outcomes = groups.map((rows) => insertRows(rows, stored));
    // The rollups of what was stored, in the same transaction: they never disagree with the rows.
    rollups.add(stored);
    return outcomes;
  });
  const placeOf = sqlite.prepare(`SELECT device_id AS deviceId, metric, ts FROM readings WHERE ${BY_ID}`);
  const updateOne = sqlite.prepare(
    'UPDATE reading_rows SET value = coalesce(?, value), unit = coalesce(?, unit), metric = coalesce(?, metric) WHERE id = ?',
  );
  const deleteOne = sqlite.prepare('DELETE FROM reading_rows WHERE id = ?');
  // A changed or removed reading's minute is rolled up again from its rows (with its old metric
  // and, when that changed, its new one).
  const patchOne = sqlite.transaction((id: string, fields: ReadingPatchFields) => {
    const key = storedId(id);
    const before = placeOf.get(key) as { deviceId: string; metric: string; ts: number } | null;
    if (!before) return undefined;
    const nameKey = (name: string | undefined) => (name === undefined ? null : names.key(name));
    updateOne.run(fields.value ?? null, nameKey(fields.unit), nameKey(fields.metric), key);
    const after = withIdText(storedById.get(key) as StoredRow);
    rollups.recompute(before.deviceId, before.metric, before.ts);
    if (after.metric !== before.metric) rollups.recompute(after.deviceId, after.metric, after.ts);
    return after;
  });
  const removeOne = sqlite.transaction((id: string) => {
    const key = storedId(id);
    const before = placeOf.get(key) as { deviceId: string; metric: string; ts: number } | null;
    if (!before) return false;
    deleteOne.run(key);
    rollups.recompute(before.deviceId, before.metric, before.ts);
    return true;
  });
  // A failed transaction may have made name keys that were rolled back with it.
  const forgettingNames =
    <A extends unknown[], R>(write: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return write(...args);
      } catch (error) {
        names.forget();
        throw error;
      }
    };
  return {
    db,
    sqlite,
    insertGroups: forgettingNames(insertGroups),
    patchOne: forgettingNames(patchOne),
    removeOne,
    byId: storedById,
    rollups,
    latestFeed: sqlite.prepare(`SELECT ${FEED_COLUMNS} FROM readings ORDER BY seq DESC LIMIT ?`),
    feedAfter: sqlite.prepare(`SELECT ${FEED_COLUMNS} FROM readings WHERE seq > ? ORDER BY seq LIMIT ?`),
    maxSeq: sqlite.prepare('SELECT coalesce(max(seq), 0) AS seq FROM reading_rows'),
    alerts: alertStatements(sqlite),
    // Oldest first by the time index, a chunk at a time: short transactions between the inserts.
    removeBefore: sqlite.prepare(
      'DELETE FROM reading_rows WHERE seq IN (SELECT seq FROM reading_rows WHERE ts < ? ORDER BY ts LIMIT ?)',
    ),
    oldest: sqlite.prepare('SELECT min(ts) AS ts FROM reading_rows'),
  };
}

type Connection = ReturnType<typeof connect>;

export interface SqliteStoreOptions {
  /** The database file, for logs, the file-identity check and WAL checkpoints (none for `:memory:`). */
  path?: string;
  /** Opens the database again after a fault (the same way it was opened first). */
  reopen?: () => Db;
  /** How often the write probe and the file check run. Default 2,000 ms. */
  probeIntervalMs?: number;
  /** Told once when the database file is found deleted or replaced. */
  onFileGone?: (message: string) => void;
  /**
   * `writer` (the default) probes writes, watches the file and runs the checkpointer; a `reader`
   * only reads. `checkpoint: false` leaves checkpoints to whoever started one already.
   */
  role?: 'writer' | 'reader';
  checkpoint?: boolean;
  /** The time that tells late readings (rollups) from those on time; tests set it. Default Date.now. */
  clock?: () => number;
}

/** How long emptying the WAL waits for a reader of another process before it gives up. */
const EMPTY_WAL_BUSY_MS = 200;

/** A write failure is forgotten after this long without another, once some write succeeds. */
const FAILURE_REMEMBERED_MS = 10 * 60_000;

/**
 * Whether a success clears the remembered failure. Not any write: on a nearly full disk a
 * one-row write fits while every 500-row batch fails, and /health said ok while the lag grew.
 * A write clears it when it held at least as many rows as the largest that failed (the retried
 * batch, typically), or when no write has failed for FAILURE_REMEMBERED_MS; the probe's success
 * clears only the probe's own failures (a full disk can still take its one-page write).
 */
function clears(
  failure: { at: number; source: 'write' | 'probe'; rows: number },
  write: 'write' | 'probe' | false,
  rows: number,
  nowMs = Date.now(),
): boolean {
  if (write === 'probe') return failure.source === 'probe';
  if (write !== 'write') return false;
  return rows >= failure.rows || nowMs - failure.at > FAILURE_REMEMBERED_MS;
}

/**
 * The embedded default: SQLite through bun:sqlite and Drizzle, one connection, WAL. Inserts are
 * `INSERT OR IGNORE` on the reading id, in one transaction per batch. Queries run synchronously
 * on the caller's thread; the methods are async only to speak the port. The API runs one of these
 * per thread (threaded-store.ts) so that none runs on its event loop; `:memory:` runs here.
 *
 * Faults are told, not hidden: a full disk, a read-only or failing file answer 503 (never 500)
 * and make `check()` say down until a write succeeds again; after one, the next write opens a
 * fresh connection, so the API recovers by itself once the fault is fixed. A database file
 * deleted or replaced under the API stops writes for good (they would go to a file nobody can
 * open again) until a restart, loudly.
 */
export function createSqliteStore(db: Db, options: SqliteStoreOptions = {}): SqliteStore {
  const { path, reopen, probeIntervalMs = 2_000, role = 'writer', checkpoint = true } = options;
  const writer = role === 'writer';
  let connection: Connection = connect(db, options.clock);
  /** The last failed write, and the most rows one of them held: only a write as large clears it. */
  let failure: { at: number; source: 'write' | 'probe'; message: string; rows: number } | undefined;
  let reopenAfter: number | undefined;
  let fileGone: string | undefined;
  const identity = path && writer ? fileIdentity(path) : undefined;

  /**
   * Empties the WAL (TRUNCATE) on this connection, between two writes: no writer to wait for.
   * Whether it could — it cannot while a reader (another process's) still reads the WAL, and
   * gives up after EMPTY_WAL_BUSY_MS, which the writes queued behind it wait too.
   */
  const emptyWal = async () =>
    guarded((c) => {
      const { timeout } = c.sqlite.query('PRAGMA busy_timeout').get() as { timeout: number };
      c.sqlite.run(`PRAGMA busy_timeout = ${EMPTY_WAL_BUSY_MS}`);
      try {
        return (c.sqlite.query('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number }).busy === 0;
      } finally {
        c.sqlite.run(`PRAGMA busy_timeout = ${timeout}`);
      }
    }, false);
  // Checkpoints on a worker thread keep commits (and so lead times) free of them.
  const checkpointer = path && writer && checkpoint ? startCheckpointer(path, { truncate: emptyWal }) : undefined;
  const listeners: Array<() => void> = [];
  const changed = () => {
    for (const listener of listeners) listener();
  };

  /**
   * Runs `work` on the connection; storage faults become StorageUnavailableError, and a failed
   * write is remembered until a write succeeds (the probe's success clears only its own failures:
   * a full disk can still take the probe's one-page write).
   */
  const guarded = <T>(work: (c: Connection) => T, write: 'write' | 'probe' | false, rows = 1): T => {
    if (write && fileGone) throw new StorageUnavailableError(fileGone);
    if (reopenAfter !== undefined && Date.now() >= reopenAfter && reopen) {
      reopenAfter = undefined;
      try {
        connection.sqlite.close();
      } catch {
        // Already unusable.
      }
      try {
        connection = connect(reopen(), options.clock);
      } catch (error) {
        reopenAfter = Date.now() + REOPEN_AFTER_MS;
        throw unavailable(error);
      }
    }
    try {
      const result = work(connection);
      if (failure && clears(failure, write, rows)) failure = undefined;
      return result;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!UNAVAILABLE.test(code)) throw error;
      if (write)
        failure = {
          at: Date.now(),
          source: write,
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
          guarded((c) => c.sqlite.run('PRAGMA user_version = 7240'), 'probe');
        } catch {
          // Remembered by guarded(); check() reports it.
        }
      }, probeIntervalMs)
    : undefined;
  probe?.unref?.();

  /** A /stats read: its statements run in a promise, and their faults are told the way guarded() tells them. */
  const statsRead = <T>(work: (c: Connection) => Promise<T>): Promise<T> =>
    guarded(work, false).catch((error) => {
      throw UNAVAILABLE.test((error as { code?: string }).code ?? '') ? unavailable(error) : error;
    });
  // Pages are ordered by (ts, the id as kept): a canonical UUID's 16 bytes sort as its text does,
  // and SQLite keeps texts before blobs; the cursor's id is turned into the same key.
  const oldestFirst = async (filter: ReadingFilter, limit: number, after?: Cursor) => {
    const afterCursor =
      after &&
      and(
        gte(readings.ts, after.ts),
        or(gt(readings.ts, after.ts), and(eq(readings.ts, after.ts), sql`stored_id > ${storedId(after.id)}`)),
      );
    return guarded(
      (c) =>
        c.db
          .select(ROW)
          .from(readings)
          .where(whereFilter(filter, afterCursor))
          .orderBy(asc(readings.ts), sql`stored_id`)
          .limit(limit)
          .all()
          .map(withIdText),
      false,
    );
  };
  const newestFirst = async (filter: ReadingFilter, limit: number, after?: Cursor) => {
    // The bound on ts alone is what SQLite turns into a range of the ts index; without it, it
    // read every row before the cursor (on 20M rows, 10 s a page deep into an export).
    const afterCursor =
      after &&
      and(
        lte(readings.ts, after.ts),
        or(lt(readings.ts, after.ts), and(eq(readings.ts, after.ts), sql`stored_id < ${storedId(after.id)}`)),
      );
    return guarded(
      (c) =>
        c.db
          .select(ROW)
          .from(readings)
          .where(whereFilter(filter, afterCursor))
          .orderBy(desc(readings.ts), sql`stored_id DESC`)
          .limit(limit)
          .all()
          .map(withIdText),
      false,
    );
  };

  const insertGroups = (groups: ReadonlyArray<readonly StoredRow[]>): BatchOutcome[] => {
    const rows = groups.reduce((sum, group) => sum + group.length, 0);
    const outcomes = guarded((c) => c.insertGroups(groups), 'write', rows);
    if (outcomes.some((outcome) => outcome.inserted > 0)) changed();
    return outcomes;
  };

  return {
    backend: 'sqlite',
    location: path ?? ':memory:',
    async identity() {
      return path ? databaseIdentity(path) : undefined;
    },
    async diskBytes() {
      return sqliteDiskBytes(path);
    },
    async insert(rows) {
      return insertGroups([rows])[0] as BatchOutcome;
    },
    async insertGroups(groups) {
      return insertGroups(groups);
    },
    async insertPacked(packed) {
      return insertGroups(unpackGroups(packed));
    },
    async get(id) {
      return guarded((c) => {
        const row = c.byId.get(storedId(id)) as StoredRow | null;
        return row ? withIdText(row) : undefined;
      }, false);
    },
    async patch(id, fields) {
      const row = guarded((c) => c.patchOne(id, fields), 'write');
      if (row) changed();
      return row;
    },
    async remove(id) {
      const removed = guarded((c) => c.removeOne(id), 'write');
      if (removed) changed();
      return removed;
    },
    page: newestFirst,
    latest: (limit) => newestFirst({}, limit),
    chunk: oldestFirst,
    exportChunk: async (filter, limit, after, format) => exportChunk(await oldestFirst(filter, limit, after), format),
    stats: (filter, threshold, devices, bucket) =>
      statsRead((c) => statsFromRollups(rollupReader(c.sqlite), filter, threshold, devices, bucket)),
    statsJson: async (filter, threshold, devices, bucket) =>
      jsonBytes(await statsRead((c) => statsFromRollups(rollupReader(c.sqlite), filter, threshold, devices, bucket))),
    statsSummaryJson: async (filter, threshold, bucket) =>
      jsonBytes(await statsRead((c) => statsSummary(rollupReader(c.sqlite), filter, threshold, bucket))),
    statsDevicesJson: async (filter, threshold, devices) =>
      jsonBytes(await statsRead((c) => statsDevices(rollupReader(c.sqlite), filter, threshold, devices))),
    async compactRollups(beforeMs, limit, thresholds = []) {
      return guarded(
        (c) => c.rollups.compact(Math.floor(beforeMs / (MINUTE_MS * HOUR_MINUTES)), limit, thresholds),
        'write',
      );
    },
    async rebuildRollups(thresholds = []) {
      return guarded((c) => c.rollups.rebuild(thresholds), 'write');
    },
    async removeRollupsBefore(beforeMs, limit) {
      return guarded((c) => c.rollups.removeBefore(Math.floor(beforeMs / MINUTE_MS), limit), 'write');
    },
    async count(filter) {
      return guarded((c) => c.db.select({ n: count() }).from(readings).where(whereFilter(filter)).get()?.n ?? 0, false);
    },
    async changesAfter(seq, limit) {
      return guarded((c) => (c.feedAfter.all(seq, limit) as FeedRow[]).map(withIdText), false);
    },
    async recentChanges(limit) {
      return guarded((c) => (c.latestFeed.all(limit) as FeedRow[]).map(withIdText), false);
    },
    async lastSeq() {
      return guarded((c) => (c.maxSeq.get() as { seq: number }).seq, false);
    },
    async removeReadingsBefore(beforeMs, limit) {
      const removed = guarded((c) => c.removeBefore.run(beforeMs, limit).changes, 'write');
      if (removed > 0) changed();
      return { removed, done: removed < limit };
    },
    async oldestReadingTs() {
      return guarded((c) => (c.oldest.get() as { ts: number | null }).ts, false);
    },
    emptyWal,
    async reclaimSpace() {
      // 2,000 pages (8 MB) a call: each call is a short write; the caller repeats it.
      return guarded((c) => {
        if ((c.sqlite.query('PRAGMA auto_vacuum').get() as { auto_vacuum: number }).auto_vacuum !== 2) return false;
        c.sqlite.run('PRAGMA incremental_vacuum(2000)');
        return (c.sqlite.query('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count > 0;
      }, 'write');
    },
    async insertAlerts(rows) {
      return guarded((c) => c.alerts.insert(rows), 'write');
    },
    async alerts(filter, limit, after) {
      return guarded((c) => c.alerts.page(filter, limit, after), false);
    },
    async acknowledgeAlert(id, ack) {
      return guarded((c) => c.alerts.acknowledge(id, ack), 'write');
    },
    async removeAlertsBefore(beforeMs, limit) {
      return guarded((c) => c.alerts.removeBefore(beforeMs, limit), 'write');
    },
    onChange(listener) {
      listeners.push(listener);
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
    async close() {
      clearInterval(probe);
      checkpointer?.stop();
      connection.sqlite.close();
    },
  };
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

/**
 * The port, and the two halves of /stats as JSON objects (see rollup-stats.ts), which the API asks
 * of two reader threads at once.
 */
export interface SqliteStore extends ReadingsStore {
  /** Each group's rows as `insert` stores them, all in one transaction; an outcome per group. */
  insertGroups(groups: ReadonlyArray<readonly StoredRow[]>): Promise<BatchOutcome[]>;
  /** insertGroups, the groups as the API's event loop hands them to the writer thread. */
  insertPacked(packed: PackedGroups): Promise<BatchOutcome[]>;
  statsSummaryJson(filter: ReadingFilter, threshold: number, bucket?: Bucket): Promise<Uint8Array>;
  statsDevicesJson(filter: ReadingFilter, threshold: number, devices: DevicePage): Promise<Uint8Array>;
  /** Empties the WAL if no reader reads it (see checkpointer.ts): whether it did. */
  emptyWal(): Promise<boolean>;
}

/**
 * Opens the SQLite database at `databaseUrl` on this thread: the writer migrates it first; a
 * reader opens a connection that only reads (the writer has migrated by then).
 */
export function openSqliteStore(
  databaseUrl: string,
  options: Pick<SqliteStoreOptions, 'probeIntervalMs' | 'onFileGone' | 'role' | 'checkpoint'> = {},
): SqliteStore {
  const path = databasePath(databaseUrl);
  const onDisk = path !== ':memory:';
  const open = (create: boolean) =>
    options.role === 'reader'
      ? openReader(path)
      : openDatabase(databaseUrl, { autocheckpointPages: onDisk ? 100_000 : 10_000, create });
  return createSqliteStore(open(true), {
    path: onDisk ? path : undefined,
    reopen: onDisk ? () => open(false) : undefined,
    ...options,
  });
}
