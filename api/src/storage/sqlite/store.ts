import { exportChunk, jsonBytes } from '../export-text.ts';
import type { Bucket } from '../minutes.ts';
import type {
  BatchOutcome,
  CompressionTiers,
  Cursor,
  DevicePage,
  FeedRow,
  ReadingFilter,
  ReadingsStore,
  StoredRow,
} from '../port.ts';
import { statsDevices, statsFromRollups, statsSummary } from '../rollup-stats.ts';
import { HOUR_MINUTES, MINUTE_MS } from '../rollups.ts';
import { storedId } from '../id-bytes.ts';
import { alertStatements } from './alerts.ts';
import { chunkStatements, compressionTiers } from './chunk-store.ts';
import { startCheckpointer } from './checkpointer.ts';
import { type Db, databaseIdentity, databasePath, openDatabase, openReader } from './client.ts';
import { withIdText } from './compact.ts';
import { sqliteDiskBytes } from './disk-bytes.ts';
import { coldReads } from './cold-reads.ts';
import { coldViewOf } from './cold-view.ts';
import { guardConnection } from './guard.ts';
import { type PackedGroups, unpackGroups } from './packed-rows.ts';
import { countReadings, newestFirst, oldestFirst } from './reading-reads.ts';
import { READING_COLUMNS, readingWrites } from './reading-writes.ts';
import { rollupStatements } from './rollups.ts';
import { rollupReader } from './stats.ts';

/** The change feed's columns: the sequence grows with every insert. */
const FEED_COLUMNS = `seq, ${READING_COLUMNS}`;

/** One connection and the statements prepared on it. */
function connect(db: Db, clock?: () => number) {
  const sqlite = db.$client;
  const chunks = chunkStatements(sqlite);
  const rollups = rollupStatements(sqlite, clock, coldViewOf(sqlite, chunks));
  return {
    db,
    sqlite,
    ...readingWrites(sqlite, rollups, chunks),
    rollups,
    chunks,
    cold: coldReads(chunks),
    /** Runs reads in one transaction: rows and chunks seen as of one moment (compaction moves rows). */
    snapshot: sqlite.transaction((read: () => unknown) => read()) as <T>(read: () => T) => T,
    latestFeed: sqlite.prepare(`SELECT ${FEED_COLUMNS} FROM readings ORDER BY seq DESC LIMIT ?`),
    feedAfter: sqlite.prepare(`SELECT ${FEED_COLUMNS} FROM readings WHERE seq > ? ORDER BY seq LIMIT ?`),
    maxSeq: sqlite.prepare('SELECT coalesce(max(seq), 0) AS seq FROM reading_rows'),
    alerts: alertStatements(sqlite),
    // Oldest first by the time index, a chunk at a time: short transactions between the inserts.
    removeBefore: sqlite.prepare(
      'DELETE FROM reading_rows WHERE seq IN (SELECT seq FROM reading_rows WHERE ts < ? ORDER BY ts LIMIT ?)',
    ),
    oldest: sqlite.prepare('SELECT min(ts) AS ts FROM reading_rows'),
    oldestCompressed: sqlite.prepare(
      'SELECT min(first_ts) AS ts FROM reading_chunks WHERE day = (SELECT min(day) FROM reading_chunks)',
    ),
  };
}

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

/** Device minute rows removed in a compaction step for each reading it may move (~the same time). */
const MINUTE_ROWS_A_READING = 4;

/** How long emptying the WAL waits for a reader of another process before it gives up. */
const EMPTY_WAL_BUSY_MS = 200;

/**
 * The embedded default: SQLite through bun:sqlite and Drizzle, one connection, WAL. Inserts are
 * `INSERT OR IGNORE` on the reading id, in one transaction per batch. Queries run synchronously
 * on the caller's thread; the methods are async only to speak the port. The API runs one of these
 * per thread (threaded-store.ts) so that none runs on its event loop; `:memory:` runs here.
 * Built of parts: the statements of reading writes (reading-writes.ts), reading reads
 * (reading-reads.ts), rollups, alerts and stats of their own modules, all on one connection
 * whose faults guard.ts tells (503, never 500; recovered from by itself).
 */
export function createSqliteStore(db: Db, options: SqliteStoreOptions = {}): SqliteStore {
  const { path, reopen, probeIntervalMs = 2_000, role = 'writer', checkpoint = true } = options;
  const writer = role === 'writer';
  const guard = guardConnection({
    connection: connect(db, options.clock),
    connect: (reopened) => connect(reopened, options.clock),
    reopen,
    path,
    writer,
    probeIntervalMs,
    onFileGone: options.onFileGone,
  });
  const guarded = guard.run;

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

  const oldest = async (filter: ReadingFilter, limit: number, after?: Cursor) =>
    guarded(
      (c) => c.snapshot(() => c.cold.page(oldestFirst(c.db, filter, limit, after), filter, limit, after, 'oldest')),
      false,
    );
  const newest = async (filter: ReadingFilter, limit: number, after?: Cursor) =>
    guarded(
      (c) => c.snapshot(() => c.cold.page(newestFirst(c.db, filter, limit, after), filter, limit, after, 'newest')),
      false,
    );
  const statsRead = guard.read;

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
        return c.snapshot(() => {
          const row = c.byId.get(storedId(id)) as StoredRow | null;
          return row ? withIdText(row) : c.chunks.get(id);
        });
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
    page: newest,
    latest: (limit) => newest({}, limit),
    chunk: oldest,
    exportChunk: async (filter, limit, after, format) => exportChunk(await oldest(filter, limit, after), format),
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
      return guarded((c) => c.snapshot(() => countReadings(c.db, filter) + c.cold.count(filter)), false);
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
      const removed = guarded((c) => {
        // Days about to lose raw readings keep their device minutes as rows again, first.
        c.rollups.keepDeviceMinutesBefore(beforeMs);
        const rows = c.removeBefore.run(beforeMs, limit).changes;
        return rows < limit ? rows + c.removeCompressedBefore(beforeMs, limit - rows) : rows;
      }, 'write');
      if (removed > 0) changed();
      return { removed, done: removed < limit };
    },
    async oldestReadingTs() {
      return guarded(
        (c) =>
          c.snapshot(() => {
            const times = [c.oldest.get(), c.oldestCompressed.get()]
              .map((row) => (row as { ts: number | null }).ts)
              .filter((ts): ts is number => ts !== null);
            return times.length === 0 ? null : Math.min(...times);
          }),
        false,
      );
    },
    async compressReadingsBefore(beforeMs, limit) {
      return guarded((c) => {
        const step = c.compress(beforeMs, limit);
        if (!step.done) return step;
        // Once the days before the bound are chunks, their device minute rows go (raw-minutes.ts),
        // in steps of their own: a minute row costs less to remove than a reading to move.
        return { moved: step.moved, done: c.rollups.dropDeviceMinutesBefore(beforeMs, limit * MINUTE_ROWS_A_READING) };
      }, 'write');
    },
    async compressionTiers(beforeMs) {
      return guarded((c) => c.snapshot(() => compressionTiers(c.sqlite, beforeMs)), false);
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
    check: guard.check,
    async close() {
      await checkpointer?.stop();
      guard.close();
    },
  };
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
  compressReadingsBefore(beforeMs: number, limit: number): Promise<{ moved: number; done: boolean }>;
  compressionTiers(beforeMs: number): Promise<CompressionTiers>;
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
