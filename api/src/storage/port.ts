/**
 * The storage port: everything the API needs from a database, and nothing of how a database does
 * it. Routes and services speak to a ReadingsStore only; each backend (`sqlite/`, and whatever
 * comes next) implements it behind this interface, with its driver types and SQL kept inside.
 * Times are epoch milliseconds throughout.
 */

import type { ExportChunk, ExportFormat } from './export-text.ts';

/**
 * The database cannot serve now (unreachable, restarting, timed out, out of space): the API
 * answers 503 with Retry-After, and a retry later can succeed. Any other error is a bug.
 */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
}

/**
 * Stored data that no longer reads as it was written (a compressed chunk whose checksum or framing
 * fails): never read as other data. The API answers 500 naming it, /health turns degraded, and
 * what does not need that data goes on. A retry cannot help: the database wants a backup.
 */
export class StorageDamagedError extends Error {
  override readonly name = 'StorageDamagedError';
}

/**
 * Too many long reads at once: the API answers 429 with Retry-After instead of queueing more
 * (see read-gate.ts).
 */
export class StorageBusyError extends Error {
  override readonly name = 'StorageBusyError';
}

/** A reading as stored. `storedAt - ts` is the lead time. */
export interface StoredRow {
  id: string;
  deviceId: string;
  metric: string;
  value: number;
  unit: string;
  ts: number;
  storedAt: number;
}

/** A stored reading with its place in the change feed: a sequence that grows with every insert. */
export type FeedRow = StoredRow & { seq: number };

/** Filters shared by listing, export and stats; `toMs` is exclusive. */
export interface ReadingFilter {
  deviceId?: string;
  metric?: string;
  fromMs?: number;
  toMs?: number;
}

/** A position in the (ts, id) order, for keyset pagination. */
export interface Cursor {
  ts: number;
  id: string;
}

/** A row offered with an id already stored under other content: the stored one stays. */
export interface Conflict {
  /** The offered row's position in the batch given to insert. */
  index: number;
  offered: StoredRow;
  stored: StoredRow;
}

export interface BatchOutcome {
  /** Rows stored now. */
  inserted: number;
  /** Rows whose id was already stored with the same content, or repeated so within the batch. */
  duplicates: number;
  /** Rows whose id was already stored (or came earlier in the batch) with other content, in batch order. */
  conflicts: Conflict[];
}

/** Whether two rows say the same thing (when they were stored aside). */
export function sameReading(a: StoredRow, b: StoredRow): boolean {
  return (
    a.id === b.id &&
    a.deviceId === b.deviceId &&
    a.metric === b.metric &&
    a.value === b.value &&
    a.unit === b.unit &&
    a.ts === b.ts
  );
}

export interface ReadingPatchFields {
  value?: number;
  unit?: string;
  metric?: string;
}

/** Which page of the per-device statistics: `limit` devices after `after`, by device id. */
export interface DevicePage {
  limit: number;
  after?: string;
}

/**
 * Minutes in readingsPerMinute at most (as many as a series' buckets): a longer window lists its
 * last 2,000 minutes, and the answer says so — `series` covers any window.
 */
export const MAX_MINUTES = 2_000;
/** Ties for the most frequent value listed at most; the answer says when there were more. */
export const MAX_MODE_TIES = 100;

export interface DeviceStats {
  deviceId: string;
  count: number;
  min: number;
  max: number;
  mean: number;
  overThreshold: number;
}

export interface Stats {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /**
   * Counted over raw readings: `skipped` says why not when the window holds too many, or starts
   * before the oldest raw reading kept.
   */
  mostFrequent: { values: number[]; count: number; truncated: boolean; skipped?: string };
  readingsPerMinute: Array<{ minute: string; count: number }>;
  readingsPerMinuteTruncated: boolean;
  /**
   * The window in at most 2,000 buckets — minutes up to a day, hours up to 90 days, days beyond,
   * or as asked — each with its count, min, max and mean (null when empty).
   */
  series: {
    bucket: 'minute' | 'hour' | 'day';
    points: Array<{ start: string; count: number; min: number | null; max: number | null; mean: number | null }>;
    /** True when the window held more buckets: these are its last ones. */
    truncated: boolean;
  };
  threshold: number;
  /**
   * False when the window starts before the oldest raw reading kept: a minute that straddles the
   * threshold there can no longer be opened, and counts only whole minutes above it.
   */
  overThresholdExact: boolean;
  /** One page of devices, by device id: `deviceLimit` of them after `deviceAfter`. */
  perDevice: DeviceStats[];
  /** Devices in the window, all pages together. */
  perDeviceTotal: number;
  /** True when devices follow this page: pass the last deviceId as `deviceAfter`. */
  perDeviceTruncated: boolean;
}

/** What a database takes on disk, in bytes; 0 for one in memory. */
export interface DiskBytes {
  /** Its data and indexes (PostgreSQL: pg_database_size, every partition and index included). */
  data: number;
  /** Its write-ahead log (SQLite's `-wal` file; PostgreSQL's is the server's, shared, not counted). */
  wal: number;
}

export interface WalStatus {
  bytes: number;
  resets: number;
}

export interface StorageCheck {
  status: 'ok' | 'down';
  latencyMs: number;
  error?: string;
}

/** One alert transition as stored in the alert history. */
export interface StoredAlert {
  id: string;
  ruleId: string;
  deviceId: string;
  metric: string;
  /** The reading's value and the rule's threshold; null for kinds without (absence). */
  value: number | null;
  threshold: number | null;
  state: 'firing' | 'resolved';
  severity: 'info' | 'warning' | 'critical';
  /** The reading's time. */
  ts: number;
  readingId: string;
  /** Why it was raised other than by a reading (a rule removed, a silence ended, flapping), or null. */
  note: string | null;
  /** A silence covered it: recorded, not notified. */
  silenced: boolean;
  /** Recorded without a notification (a flapping device's transitions). */
  quiet: boolean;
  /** When the evaluator raised it (its alerts-stream entry time). */
  raisedAt: number;
  /** Who acknowledged it (POST /alerts/:id/ack), when, and why; null while nobody has. */
  ackedBy?: string | null;
  ackedAt?: number | null;
  ackNote?: string | null;
}

/** An acknowledgement of a firing alert. */
export interface AlertAck {
  author: string;
  note: string | null;
  at: number;
}

/** Filters of the alert history; `toMs` is exclusive. */
export interface AlertFilter {
  deviceId?: string;
  ruleId?: string;
  state?: 'firing' | 'resolved';
  fromMs?: number;
  toMs?: number;
}

/**
 * The storage port, by capability: what the rest of the API may ask of a backend, in groups a
 * module names when it needs only some (the alert history, the change feed…). A backend is one
 * object with all of them today (`ReadingsStore`); the conformance suite checks each capability
 * on every backend, in a block of its own.
 */

/** What a backend is and whether it answers. */
export interface StoreLifecycle {
  /** Which backend this is, for /health and logs. */
  readonly backend: string;
  /** Where its data is, for logs: a file path, or a server and database (never a password). */
  readonly location: string;
  /**
   * What tells this database from another at the same location — a file's device and inode, a
   * server's system identifier and the database's oid — or undefined where it cannot be told
   * (in memory). A different one at the next start means the data was lost or replaced.
   */
  identity(): Promise<string | undefined>;
  /** Whether the database answers, and how fast. */
  check(): Promise<StorageCheck>;
  /** What it takes on disk (/metrics `api_storage_bytes`). */
  diskBytes(): Promise<DiskBytes>;
  /**
   * SQLite on its threads: the write-ahead log's size on disk, and how often it was emptied
   * because readers that never pause kept it from starting over (see sqlite/checkpointer.ts).
   */
  wal?(): WalStatus;
  close(): Promise<void>;
}

/** Writing readings: each once by its id, a conflict named; edits and deletes by id. */
export interface ReadingWrites {
  /**
   * Stores the rows not stored yet, in one transaction; idempotent by id. A row whose id is
   * stored with other content is a conflict: the first version stays, and the answer says so.
   */
  insert(rows: readonly StoredRow[]): Promise<BatchOutcome>;
  patch(id: string, fields: ReadingPatchFields): Promise<StoredRow | undefined>;
  remove(id: string): Promise<boolean>;
}

/** Reading them back: by id, newest first, oldest first (exports), counted. */
export interface ReadingReads {
  get(id: string): Promise<StoredRow | undefined>;
  /** Newest first by (ts, id), up to `limit` rows after the cursor. */
  page(filter: ReadingFilter, limit: number, after?: Cursor): Promise<StoredRow[]>;
  /**
   * The newest `limit` rows by (ts, id), as `page({}, limit)`: the dashboard's poll, short by the
   * index, so it never waits behind long reads (SQLite asks the writer's thread for it).
   */
  latest(limit: number): Promise<StoredRow[]>;
  /** Oldest first by (ts, id), up to `limit` rows after the cursor: an export walks these. */
  chunk(filter: ReadingFilter, limit: number, after?: Cursor): Promise<StoredRow[]>;
  /** `chunk` as export text (see export-text.ts), made where the rows are read: SQLite's reader thread. */
  exportChunk(
    filter: ReadingFilter,
    limit: number,
    after: Cursor | undefined,
    format: ExportFormat,
  ): Promise<ExportChunk>;
  /** How many rows match. */
  count(filter: ReadingFilter): Promise<number>;
}

/** Statistics over any window, from the rollups and the raw rows they do not cover. */
export interface ReadingStatistics {
  stats(
    filter: ReadingFilter,
    threshold: number,
    devices: DevicePage,
    bucket?: 'minute' | 'hour' | 'day',
  ): Promise<Stats>;
  /**
   * `stats` as the JSON /stats answers, in UTF-8, made where it is worked out (SQLite: on the
   * reader threads): a whole-history answer is ~180 KB, which the event loop serving writes would
   * otherwise serialize and encode tens of times a second under load.
   */
  statsJson(
    filter: ReadingFilter,
    threshold: number,
    devices: DevicePage,
    bucket?: 'minute' | 'hour' | 'day',
  ): Promise<Uint8Array>;
}

/** Rollup maintenance: hours and days derived, rebuilt, aged out. */
export interface RollupMaintenance {
  /**
   * Derives hour and day rollups from the minutes of up to `limit` changed hours before
   * `beforeMs` (see rollups.ts), with their readings above each of `thresholds`; how many hours
   * it derived. Every API instance runs it; they never derive the same hour at once.
   */
  compactRollups(beforeMs: number, limit: number, thresholds?: readonly number[]): Promise<number>;
  /**
   * Every minute that still has raw readings rolled up again from them (the rollups of minutes
   * retention removed stay), then compacted: after a restore, or a bug.
   */
  rebuildRollups(thresholds?: readonly number[]): Promise<{ minutes: number }>;
  /** Removes up to `limit` rollup rows (any level) that start before `beforeMs` (RETAIN_ROLLUP_DAYS). */
  removeRollupsBefore(beforeMs: number, limit: number): Promise<number>;
}

/** The change feed (the live dashboard, SSE): every committed change in order. */
export interface ChangeFeed {
  /** The change feed: rows stored after `seq`, in sequence order, up to `limit`. */
  changesAfter(seq: number, limit: number): Promise<FeedRow[]>;
  /** The newest `limit` rows of the change feed, newest first. */
  recentChanges(limit: number): Promise<FeedRow[]>;
  /** The newest sequence number (0 when empty). */
  lastSeq(): Promise<number>;
  /** Calls `listener` after each committed change (insert, patch, delete). */
  onChange(listener: () => void): void;
}

/** The alert history: transitions stored once, acknowledged, listed, aged out. */
export interface AlertHistory {
  /** Stores the alerts not stored yet, idempotent by alert id (the first version stays). */
  insertAlerts(rows: readonly StoredAlert[]): Promise<{ inserted: number; duplicates: number }>;
  /**
   * Marks the alert acknowledged (the first acknowledgement stays); the alert as stored after, or
   * undefined when there is none with that id.
   */
  acknowledgeAlert(id: string, ack: AlertAck): Promise<StoredAlert | undefined>;
  /** The alert history, newest first by (ts, id), up to `limit` after the cursor. */
  alerts(filter: AlertFilter, limit: number, after?: Cursor): Promise<StoredAlert[]>;
  /** Removes up to `limit` alerts older than `beforeMs` (by ts): retention, in small steps. */
  removeAlertsBefore(beforeMs: number, limit: number): Promise<number>;
}

/** Reading retention: old readings removed in small steps, and the space given back. */
export interface ReadingRetention {
  /**
   * Retention, one small step: removes up to about `limit` readings measured before `beforeMs`
   * (SQLite: a chunk of rows; PostgreSQL: a chunk of ids, or a whole day's partition once its ids
   * are gone). `done` once nothing older is left. Rows are the same everywhere: a step never
   * removes a reading at or after `beforeMs`.
   */
  removeReadingsBefore(beforeMs: number, limit: number): Promise<{ removed: number; done: boolean }>;
  /** The oldest stored reading's time, or null when there is none. */
  oldestReadingTs(): Promise<number | null>;
  /**
   * Gives some of the space freed by removals back to the file system, where the backend needs
   * telling (SQLite); true while there is more to give back (call again).
   */
  reclaimSpace(): Promise<boolean>;
}

/**
 * Compressing cold readings: the rows of whole days before a bound moved into compressed chunks
 * (SQLite: sqlite/chunk-writes.ts, read by chunk-store.ts), every reading still found, listed,
 * counted, changed and removed as before. A backend without it keeps every reading as a row.
 */
export interface ReadingCompression {
  /**
   * One step: moves about `limit` readings of whole (UTC) days before `beforeMs` into chunks;
   * `done` once none is left to move.
   */
  compressReadingsBefore(beforeMs: number, limit: number): Promise<{ moved: number; done: boolean }>;
  /** What each tier holds now, and what of days before `beforeMs` is still rows. */
  compressionTiers(beforeMs: number): Promise<CompressionTiers>;
}

/** Readings as rows and in chunks (see ReadingCompression). */
export interface CompressionTiers {
  rowReadings: number;
  compressedReadings: number;
  chunks: number;
  /** The chunks' own bytes, bodies and id filters (their table's pages and indexes aside). */
  chunkBytes: number;
  /**
   * Rows of whole days before the bound, not moved yet: late ones wait for the next pass, and the
   * newest row by sequence always stays a row.
   */
  waitingRows: number;
}

/** A backend: every capability. */
export type ReadingsStore = StoreLifecycle &
  ReadingWrites &
  ReadingReads &
  ReadingStatistics &
  RollupMaintenance &
  ChangeFeed &
  AlertHistory &
  ReadingRetention &
  Partial<ReadingCompression>;
